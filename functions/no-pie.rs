//! The build script of every Lambda function (each `Cargo.toml` names it with `build = …`):
//! links the function's binary as a position-dependent executable (`-no-pie`).
//!
//! Why: a position-independent executable is relocated by the dynamic loader at every start,
//! and a function built with the AWS SDK carries 50,000 pointers to relocate (`api`, with the
//! web app and the reports, 144,000: `LD_DEBUG=statistics`); the loader writing them copies
//! their pages, and that was most of a cold start: `api` 6.7 ms against 2.7 ms linked this
//! way, next to 2.1 ms for a hello-world `lambda_runtime` function (docs/performance.md, "Init
//! deferred to the first event"). Linked at a fixed address there is nothing to relocate.
//! DT_RELR (`-z pack-relative-relocs`) would shrink the table but not the copies, and needs
//! glibc 2.36 where Lambda's `provided.al2023` has 2.34.
//!
//! The cost: the executable's own code and data are at the same address in every process
//! (the stack, the heap, shared libraries and other mappings stay randomised), as for Go
//! binaries, which are built that way by default. Only the functions: `herald serve`, a
//! long-lived server, stays position-independent.
//!
//! It is a link argument of the binaries only: the code is compiled as before, so the
//! dependencies built for the tests are shared. Both linkers the project uses take it: the
//! system `cc` (GNU ld) of `cargo build`, and zig's `cc` (LLD) that `cargo lambda build` uses
//! for x86_64 (checked: `file` says "executable", `LD_DEBUG=statistics` 0 relative
//! relocations) and for arm64 (the same zig driver; not run here, this machine cannot run arm64).

fn main() {
    println!("cargo:rustc-link-arg-bins=-no-pie");
}
