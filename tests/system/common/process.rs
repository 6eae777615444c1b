//! Child processes of the system tests, held to three rules:
//!
//! 1. **Fresh binaries only.** [`workspace_binary`] hands out a binary of this workspace
//!    (`herald`, the six Lambda functions) only when it was built from this checkout's current
//!    sources; else the test fails saying how to rebuild. A stale binary would test old code and
//!    pass or fail for nothing.
//! 2. **Every wait is bounded.** [`output_within`] runs a command to its end or kills it at a
//!    deadline; [`OutputLines`] reads a running child's output with a deadline. On a timeout the
//!    child is killed and the test fails with everything the child printed.
//! 3. **No silent skip under CI.** [`skip_requested`]: a `HERALD_SKIP_*` variable may skip a
//!    test on a developer's machine (loudly), never under `CI` (tests/run refuses the run first).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

// ------------------------------------------------------------------------------------------
// 1. Fresh binaries
// ------------------------------------------------------------------------------------------

/// The binary `name` of this workspace that cargo built beside this test executable
/// (`target/<profile>/<name>`), after checking that it was built from this checkout as it is now.
///
/// How freshness is decided ([`freshness`]), two independent checks:
///
/// 1. **Its sources, by date.** Cargo writes, beside each binary, `<name>.d`: every workspace
///    source file the binary was compiled from (absolute paths; registry dependencies are not
///    listed, they do not change under us). Each must lie in this checkout (`CARGO_MANIFEST_DIR`),
///    still exist, and be no newer than the binary. That is cargo's own rule for workspace
///    sources: whenever this fails, `cargo build` rebuilds, and whenever cargo would rebuild
///    nothing, this passes. `Cargo.toml` and `Cargo.lock` are deliberately not compared by date:
///    cargo decides about them by content (a lockfile change that does not touch a binary does
///    not rebuild it, so a date rule would fail forever), and tests/run builds every binary
///    before the tests, so a dependency change is built in.
/// 2. **Where it was compiled.** The debug info of every workspace crate in the binary names the
///    directory rustc ran in, the checkout's root (`DW_AT_comp_dir`; the dev profile keeps line
///    tables for workspace crates). Every checkout of Herald named there must be this one.
///    This catches what cargo cannot: checkouts (git worktrees) sharing one `CARGO_TARGET_DIR`
///    with the same layout get the same artifact names, so cargo takes another checkout's newer
///    build for its own (its sources are older than that build) and keeps it. A binary without
///    debug info passes this check unseen.
pub fn workspace_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..");
    let bin = dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    let rebuild = "build the workspace's binaries (`cargo build --workspace --bins`; tests/run does it before the tests)";
    assert!(bin.exists(), "{} is missing: {rebuild}", bin.display());
    // Checked once per binary and test process (the compile-directory scan reads its debug info).
    static CHECKED: Mutex<Vec<(PathBuf, SystemTime)>> = Mutex::new(Vec::new());
    let built = modified(&bin).ok();
    let mut checked = CHECKED.lock().unwrap_or_else(|e| e.into_inner());
    if built.is_some_and(|b| checked.contains(&(bin.clone(), b))) {
        return bin;
    }
    match freshness(&bin) {
        Ok(()) => checked.extend(built.map(|b| (bin.clone(), b))),
        Err(why) if why.contains("compiled in another checkout") => panic!(
            "{} cannot be trusted: {why}. Cargo took that build for this checkout's (same layout, one shared target \
             directory). Make cargo rebuild from this checkout's sources (`find shared cli functions -name '*.rs' \
             -exec touch {{}} +`, then tests/run), or give this checkout its own CARGO_TARGET_DIR",
            bin.display()
        ),
        Err(why) => panic!("{} cannot be trusted: {why}. {rebuild}", bin.display()),
    }
    bin
}

/// `Ok` when `bin` was built from this checkout's current sources (see [`workspace_binary`]).
pub fn freshness(bin: &Path) -> Result<(), String> {
    freshness_in(bin, Path::new(env!("CARGO_MANIFEST_DIR")))
}

fn freshness_in(bin: &Path, checkout: &Path) -> Result<(), String> {
    let checkout = checkout.canonicalize().unwrap_or_else(|_| checkout.to_owned());
    sources_older(bin, &checkout)?;
    for root in compiled_in(bin) {
        if root.canonicalize().unwrap_or_else(|_| root.clone()) != checkout {
            return Err(format!("it was compiled in another checkout, {} (its debug info says so)", root.display()));
        }
    }
    Ok(())
}

/// Check 1 of [`workspace_binary`]: the sources in `<bin>.d`.
fn sources_older(bin: &Path, checkout: &Path) -> Result<(), String> {
    let target = bin.parent().and_then(Path::parent).map(Path::to_owned).unwrap_or_default();
    let built = modified(bin).map_err(|e| format!("cannot read its date: {e}"))?;
    let dep_info = bin.with_extension("d");
    let text = std::fs::read_to_string(&dep_info)
        .map_err(|e| format!("cannot read {}, the list of sources cargo built it from: {e}", dep_info.display()))?;
    let sources = dep_info_sources(&text);
    if sources.is_empty() {
        return Err(format!("{} lists no source", dep_info.display()));
    }
    for source in sources {
        let source = if source.is_absolute() { source } else { checkout.join(source) };
        // Files cargo generated (a build script's OUT_DIR) live in the target directory.
        if source.starts_with(&target) {
            continue;
        }
        if !source.starts_with(checkout) {
            return Err(format!(
                "it was built from another checkout ({} is not under {})",
                source.display(),
                checkout.display()
            ));
        }
        match modified(&source) {
            Err(_) => return Err(format!("{} it was built from no longer exists", source.display())),
            Ok(changed) if changed > built => {
                return Err(format!("{} changed after it was built", source.display()));
            }
            Ok(_) => {}
        }
    }
    Ok(())
}

/// Check 2 of [`workspace_binary`]: the roots of Herald checkouts (a directory holding
/// `shared/Cargo.toml` and `tests/system/main.rs`) that `bin`'s debug strings name: the
/// compile directories of its workspace crates. Empty when it has none (no debug info, not ELF).
fn compiled_in(bin: &Path) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for section in [".debug_str", ".debug_line_str", ".debug_line", ".debug_info"] {
        let Some(bytes) = elf_section(bin, section) else { continue };
        for token in bytes.split(|b| *b == 0) {
            if token.first() != Some(&b'/') || token.len() > 1024 || !seen.insert(token.to_vec()) {
                continue;
            }
            let Ok(text) = std::str::from_utf8(token) else { continue };
            let path = Path::new(text);
            if path.join("shared/Cargo.toml").is_file() && path.join("tests/system/main.rs").is_file() {
                roots.push(path.to_owned());
            }
        }
        if !roots.is_empty() {
            break;
        }
    }
    roots
}

/// The bytes of section `name` of the ELF64 little-endian file `path` (what Linux builds are),
/// read straight from its section headers; `None` for another format or no such section.
fn elf_section(path: &Path, name: &str) -> Option<Vec<u8>> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let mut read_at = |offset: u64, len: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0u8; len];
        file.seek(SeekFrom::Start(offset)).ok()?;
        file.read_exact(&mut buf).ok()?;
        Some(buf)
    };
    let header = read_at(0, 64)?;
    if header[..4] != *b"\x7fELF" || header[4] != 2 || header[5] != 1 {
        return None;
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let u64_at = |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap());
    let (shoff, shentsize, shnum, shstrndx) = (u64_at(&header, 0x28), u16_at(&header, 0x3a), u16_at(&header, 0x3c), u16_at(&header, 0x3e));
    if shentsize < 64 || shnum == 0 || shstrndx >= shnum {
        return None;
    }
    let table = read_at(shoff, shentsize * shnum)?;
    let entry = |i: usize| &table[i * shentsize..(i + 1) * shentsize];
    let names = entry(shstrndx);
    let names = read_at(u64_at(names, 0x18), u64_at(names, 0x20) as usize)?;
    (0..shnum).find_map(|i| {
        let e = entry(i);
        let at = u32::from_le_bytes(e[0..4].try_into().unwrap()) as usize;
        let end = names.get(at..)?.iter().position(|b| *b == 0)? + at;
        (&names[at..end] == name.as_bytes()).then(|| (u64_at(e, 0x18), u64_at(e, 0x20) as usize))
    })
    .and_then(|(offset, size)| read_at(offset, size))
}

fn modified(path: &Path) -> std::io::Result<SystemTime> {
    std::fs::metadata(path)?.modified()
}

/// The prerequisites of the first rule of a Makefile-style dep-info file (`target: a b\ c`).
fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let Some(first) = text.lines().find(|l| !l.trim().is_empty()) else { return vec![] };
    // The target is a path too and may hold `: ` only escaped; the first unescaped ": " ends it.
    let Some(at) = first.find(": ") else { return vec![] };
    let mut sources = vec![];
    let mut current = String::new();
    let mut chars = first[at + 2..].chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|n| *n == ' ' || *n == '\\' || *n == '#') => {
                current.push(chars.next().unwrap());
            }
            ' ' | '\t' => {
                if !current.is_empty() {
                    sources.push(PathBuf::from(std::mem::take(&mut current)));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        sources.push(PathBuf::from(current));
    }
    sources
}

// ------------------------------------------------------------------------------------------
// 2. Bounded waits
// ------------------------------------------------------------------------------------------

/// Everything a child printed so far, stdout and stderr lines interleaved as they came (each
/// prefixed with its stream), for failure messages.
#[derive(Clone, Default)]
pub struct Transcript(Arc<Mutex<Vec<String>>>);

impl Transcript {
    fn push(&self, line: String) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }

    pub fn text(&self) -> String {
        let lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.is_empty() { "(it printed nothing)".to_owned() } else { lines.join("\n") }
    }
}

/// A running child's output, read by two threads (one per stream) into a channel, so that the
/// test can wait for a line with a deadline instead of blocking on a read. The child never
/// blocks on a full pipe: the threads read until the child closes its ends (when it exits).
pub struct OutputLines {
    stdout: Receiver<String>,
    pub transcript: Transcript,
}

impl OutputLines {
    /// Takes `child`'s piped stdout (lines handed to [`Self::next_line`]) and stderr (kept in
    /// the transcript only, when piped).
    pub fn of(child: &mut Child) -> OutputLines {
        let transcript = Transcript::default();
        let (tx, stdout) = channel();
        if let Some(out) = child.stdout.take() {
            let t = transcript.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    t.push(format!("[stdout] {line}"));
                    // The receiver may be gone (the test has what it wanted): keep draining.
                    let _ = tx.send(line);
                }
            });
        }
        if let Some(err) = child.stderr.take() {
            let t = transcript.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    t.push(format!("[stderr] {line}"));
                }
            });
        }
        OutputLines { stdout, transcript }
    }

    /// The next stdout line, waiting until `deadline`. `Err` says why there is none: the
    /// deadline passed, or the child closed its stdout (it exited).
    pub fn next_line(&self, deadline: Instant) -> Result<String, &'static str> {
        match self.stdout.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err("timed out"),
            Err(RecvTimeoutError::Disconnected) => Err("its output ended (did it exit?)"),
        }
    }
}

/// Kills `child` (by its PID) and reaps it; its exit status, for messages.
pub fn kill(child: &mut Child) -> String {
    let _ = child.kill();
    match child.wait() {
        Ok(status) => status.to_string(),
        Err(e) => format!("(wait failed: {e})"),
    }
}

/// Runs `command` to its end, at most `limit`: its output, as `Command::output` gives it. Past
/// the limit the child is killed and the test fails with what it printed.
pub fn output_within(command: &mut Command, limit: Duration) -> Output {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    // Read into shared buffers as it comes: what was printed is there even if a grandchild
    // keeps a pipe open after the child is gone (so the reader never sees its end).
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        let buffer: Arc<Mutex<Vec<u8>>> = Arc::default();
        let into = buffer.clone();
        let thread = std::thread::spawn(move || {
            let Some(mut pipe) = pipe else { return };
            let mut chunk = [0u8; 8192];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                into.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(&chunk[..n]);
            }
        });
        (buffer, thread)
    };
    let (out, out_thread) = reader(child.stdout.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let (err, err_thread) = reader(child.stderr.take().map(|p| Box::new(p) as Box<dyn Read + Send>));
    let take = |b: &Arc<Mutex<Vec<u8>>>| std::mem::take(&mut *b.lock().unwrap_or_else(|e| e.into_inner()));
    let deadline = Instant::now() + limit;
    let status = loop {
        match child.try_wait().expect("try_wait") {
            Some(status) => break status,
            None if Instant::now() >= deadline => {
                let status = kill(&mut child);
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "{what} did not finish within {limit:?}; killed ({status}). Its stdout:\n{}\nIts stderr:\n{}",
                    String::from_utf8_lossy(&take(&out)),
                    String::from_utf8_lossy(&take(&err))
                );
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    // The pipes end with the child, or with the last grandchild holding them: a few seconds.
    let drained = Instant::now() + Duration::from_secs(5);
    while !(out_thread.is_finished() && err_thread.is_finished()) && Instant::now() < drained {
        std::thread::sleep(Duration::from_millis(10));
    }
    Output { status, stdout: take(&out), stderr: take(&err) }
}

/// An HTTP client for talking to the test's own servers on loopback: never through a proxy, and
/// no request waits more than 30 s (a hung server fails the test instead of hanging it).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("HTTP client")
}

// ------------------------------------------------------------------------------------------
// 3. No silent skip under CI
// ------------------------------------------------------------------------------------------

/// Whether this is a CI run: `CI` set to anything but empty, `0` or `false` (`.ci/run` is run
/// with `CI=true`, as CI services set it).
pub fn under_ci() -> Option<String> {
    std::env::var("CI").ok().filter(|v| !matches!(v.trim(), "" | "0" | "false"))
}

/// `true` when the developer asked to skip what `var` names (`var=1`): the test then returns
/// early, having checked nothing, after a loud warning. Under CI it panics instead: a CI run
/// must not pass tests that checked nothing (tests/run refuses such a run before any test;
/// this is the same rule for a runner that bypasses tests/run).
pub fn skip_requested(var: &str, what: &str) -> bool {
    if std::env::var(var).as_deref() != Ok("1") {
        return false;
    }
    if let Some(ci) = under_ci() {
        panic!(
            "{var}=1 under CI (CI={ci}): {what} must run in CI, not be skipped. \
             Unset {var} (tests/run provides what these tests need)."
        );
    }
    eprintln!("WARNING: {var}=1: NOT checking {what}; this test checked nothing");
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_sources_are_read_with_escaped_spaces() {
        let text = "/t/debug/api: /w/a.rs /w/my\\ dir/b.rs\n\n/w/a.rs:\n";
        assert_eq!(dep_info_sources(text), vec![PathBuf::from("/w/a.rs"), PathBuf::from("/w/my dir/b.rs")]);
    }

    /// The check itself can fail: a binary older than one of its sources, built from another
    /// checkout, or from a file since deleted is refused; one built after its sources is not.
    #[test]
    fn a_binary_older_than_its_sources_or_from_elsewhere_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        let (checkout, other, target) = (root.join("checkout"), root.join("other"), root.join("target/debug"));
        for d in [&checkout, &other, &target] {
            std::fs::create_dir_all(d).unwrap();
        }
        let at = |secs: u64| SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs);
        let file = |path: &Path, when: SystemTime| {
            std::fs::write(path, "x").unwrap();
            std::fs::File::options().write(true).open(path).unwrap().set_modified(when).unwrap();
        };
        let (main, lib, elsewhere) = (checkout.join("main.rs"), checkout.join("lib.rs"), other.join("main.rs"));
        file(&main, at(0));
        file(&lib, at(0));
        file(&elsewhere, at(0));
        let bin = target.join("app");
        let d = target.join("app.d");
        let dep_info = |sources: &[&Path]| {
            let list: Vec<String> = sources.iter().map(|s| s.display().to_string()).collect();
            std::fs::write(&d, format!("{}: {}\n", bin.display(), list.join(" "))).unwrap();
        };
        file(&bin, at(10));
        dep_info(&[&main, &lib]);
        assert_eq!(freshness_in(&bin, &checkout), Ok(()));

        file(&lib, at(20));
        let why = freshness_in(&bin, &checkout).unwrap_err();
        assert!(why.contains("lib.rs changed after it was built"), "{why}");
        file(&bin, at(30));
        assert_eq!(freshness_in(&bin, &checkout), Ok(()), "rebuilt");

        dep_info(&[&main, &elsewhere]);
        let why = freshness_in(&bin, &checkout).unwrap_err();
        assert!(why.contains("built from another checkout"), "{why}");

        dep_info(&[&main, &checkout.join("gone.rs")]);
        let why = freshness_in(&bin, &checkout).unwrap_err();
        assert!(why.contains("gone.rs it was built from no longer exists"), "{why}");

        std::fs::remove_file(&d).unwrap();
        assert!(freshness_in(&bin, &checkout).unwrap_err().contains("cannot read"));
    }

    /// The compile-directory check works on this platform: the test executable itself (built
    /// from this checkout by definition) names this checkout and no other.
    #[test]
    fn the_debug_info_names_the_checkout_a_binary_was_compiled_in() {
        let exe = std::env::current_exe().unwrap();
        let checkout = Path::new(env!("CARGO_MANIFEST_DIR")).canonicalize().unwrap();
        let roots: Vec<PathBuf> = compiled_in(&exe).iter().map(|r| r.canonicalize().unwrap()).collect();
        assert_eq!(roots, [checkout], "{}", exe.display());
    }

    /// A child that prints a line then goes silent: the line is read, then the wait for the next
    /// ends at its deadline (the old `BufRead::lines` read would block forever), with the
    /// transcript kept for the message.
    #[test]
    fn a_silent_child_is_a_timeout_not_a_hang() {
        // Silent until its stdin (held open here, never written) says something: no timer.
        let mut child = Command::new("sh")
            .args(["-c", "echo first; echo oops >&2; read never"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let output = OutputLines::of(&mut child);
        let deadline = Instant::now() + Duration::from_millis(700);
        assert_eq!(output.next_line(deadline).as_deref(), Ok("first"));
        assert_eq!(output.next_line(deadline), Err("timed out"));
        assert!(Instant::now() < deadline + Duration::from_secs(2), "it waited for the deadline, no longer");
        kill(&mut child);
        let transcript = output.transcript.text();
        assert!(transcript.contains("[stdout] first") && transcript.contains("[stderr] oops"), "{transcript}");
    }

    #[test]
    fn a_command_past_its_limit_is_killed_with_its_output() {
        let started = Instant::now();
        let caught = std::panic::catch_unwind(|| {
            output_within(Command::new("sh").args(["-c", "echo started; sleep 30"]), Duration::from_millis(500))
        });
        let message = *caught.expect_err("a timeout fails").downcast::<String>().unwrap();
        assert!(message.contains("did not finish within 500ms") && message.contains("started"), "{message}");
        assert!(started.elapsed() < Duration::from_secs(10), "killed, not waited for");
        let out = output_within(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]), Duration::from_secs(10));
        assert_eq!((out.status.code(), &out.stdout[..], &out.stderr[..]), (Some(3), &b"out\n"[..], &b"err\n"[..]));
    }
}
