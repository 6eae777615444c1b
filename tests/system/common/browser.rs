//! Looking at a rendered page in headless Chromium (Debian's `chromium`, which `tests/run`
//! installs): its layout as the browser computed it, and a screenshot of it.
//!
//! Two runs of Chromium at the same window size: `--dump-dom` on a copy of the page with a
//! measuring script added at the end of its body (page width against the window, the outermost
//! elements that stick out, each chart's box and its drawn data marks, which are the SVG shapes
//! carrying a `<title>` tooltip), then `--screenshot` of the whole page height. The screenshot's
//! pixels inside each chart's box must show colour: the charts draw data in colour and
//! everything else (axes, labels, the "no data" placeholder) in greys.
//!
//! Chromium is `HERALD_CHROMIUM`, else `chromium` on PATH. Without it the tests FAIL, unless
//! `HERALD_SKIP_BROWSER=1` says to skip them (loudly; never under `CI`, where that fails). Each
//! run of Chromium has [`CHROMIUM_LIMIT`]: one that hangs is killed and the test fails.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use serde_json::Value;

/// The script that measures the page and leaves the result, base64 JSON, in `#herald-layout`.
const MEASURE: &str = r#"<script>
(function () {
  const de = document.documentElement;
  const width = de.clientWidth;
  const describe = (el) => el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
    (el.className && typeof el.className === 'string' ? '.' + el.className.trim().split(/\s+/).join('.') : '') +
    ' "' + (el.textContent || '').trim().slice(0, 40) + '"';
  const overflowing = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.right <= width + 1) continue;
    const parent = el.parentElement && el.parentElement.getBoundingClientRect();
    if (!parent || parent.right <= width + 1) overflowing.push(describe(el) + ' ends at ' + Math.round(r.right) + ' px');
  }
  const charts = Array.from(document.querySelectorAll('figure svg')).map((svg) => {
    const r = svg.getBoundingClientRect();
    let marks = 0;
    for (const m of svg.querySelectorAll('rect, circle, ellipse, path, polyline, polygon, line')) {
      if (!m.querySelector(':scope > title')) continue;
      const b = m.getBoundingClientRect();
      if (b.width > 0.5 && b.height > 0.5 && getComputedStyle(m).visibility !== 'hidden') marks++;
    }
    // The smallest text as drawn: its size in the chart's units times the chart's scale.
    const box = svg.viewBox && svg.viewBox.baseVal;
    const scale = box && box.width > 0 ? r.width / box.width : 1;
    let minText = null;
    for (const t of svg.querySelectorAll('text')) {
      const px = parseFloat(getComputedStyle(t).fontSize) * scale;
      if ((t.textContent || '').trim() && (minText === null || px < minText)) minText = px;
    }
    return { label: svg.getAttribute('aria-label') || '(unlabelled)', x: r.left + window.scrollX,
             y: r.top + window.scrollY, width: r.width, height: r.height, marks, min_text_px: minText };
  });
  const out = { client_width: width, scroll_width: de.scrollWidth, scroll_height: de.scrollHeight, overflowing, charts };
  const pre = document.createElement('pre');
  pre.id = 'herald-layout';
  pre.style.display = 'none';
  pre.textContent = btoa(unescape(encodeURIComponent(JSON.stringify(out))));
  document.body.appendChild(pre);
  // Laid out in a frame (a window narrower than headless Chromium opens): tell the host page.
  if (window.parent !== window) window.parent.postMessage(pre.textContent, '*');
})();
</script>"#;

/// Headless Chromium opens no window narrower than this; a narrower page is laid out in an
/// `<iframe>` of its width inside such a window (see [`framed`]).
const NARROWEST_WINDOW: u32 = 500;

/// A host page showing `page` (a file beside it) in a frame `width` × `height` px, which
/// writes the measurement the framed page posts to it into its own `#herald-layout`.
fn framed(page: &str, width: u32, height: u32) -> String {
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"></head><body style=\"margin:0\">\
         <script>addEventListener('message', function (e) {{ var p = document.createElement('pre'); \
         p.id = 'herald-layout'; p.style.display = 'none'; p.textContent = e.data; document.body.appendChild(p); }});</script>\
         <iframe src=\"{page}\" title=\"page\" style=\"width:{width}px;height:{height}px;border:0;display:block\"></iframe>\
         </body></html>"
    )
}

/// How long one run of Chromium (a DOM dump or a screenshot) may take: about a second here.
const CHROMIUM_LIMIT: Duration = Duration::from_secs(60);

/// Colour, as opposed to grey: the spread between the strongest and weakest channel.
const COLOUR_SPREAD: u8 = 60;
/// A chart must show at least this many coloured pixels.
const MIN_COLOURED_PIXELS: usize = 40;
/// A chart's smallest text, as drawn, in CSS px: readable on a phone.
const MIN_TEXT_PX: f64 = 11.0;

pub struct Browser {
    exe: PathBuf,
}

#[derive(Debug)]
pub struct Chart {
    pub label: String,
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
    /// Data marks with a visible size.
    pub marks: u64,
    /// Coloured pixels inside the chart's box on the screenshot.
    pub coloured_pixels: usize,
    /// Its smallest text as drawn, CSS px (`None`: no text).
    pub min_text_px: Option<f64>,
}

#[derive(Debug)]
pub struct Inspection {
    pub window_width: u32,
    pub client_width: u64,
    pub scroll_width: u64,
    pub scroll_height: u64,
    pub overflowing: Vec<String>,
    pub charts: Vec<Chart>,
    pub screenshot: PathBuf,
}

impl Inspection {
    /// Everything wrong with the page, in words; empty when it is fine.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.scroll_width > self.client_width {
            problems.push(format!(
                "the page overflows at {} px: it is {} px wide; sticking out: {:?}",
                self.window_width, self.scroll_width, self.overflowing
            ));
        }
        for c in &self.charts {
            if let Some(px) = c.min_text_px.filter(|px| *px < MIN_TEXT_PX) {
                problems.push(format!(
                    "chart '{}' has text {px:.1} px high at {} px: too small to read (at least {MIN_TEXT_PX} px)",
                    c.label, self.window_width
                ));
            }
            if c.width < 1.0 || c.height < 1.0 {
                problems.push(format!("chart '{}' has no size ({} × {})", c.label, c.width, c.height));
            } else if c.marks == 0 {
                problems.push(format!("chart '{}' is empty: no data mark is drawn", c.label));
            } else if c.coloured_pixels < MIN_COLOURED_PIXELS {
                problems.push(format!(
                    "chart '{}' shows no data on screen: {} coloured pixels in its box ({:.0} × {:.0} at {:.0}, {:.0}; page {} px wide)",
                    c.label, c.coloured_pixels, c.width, c.height, c.x, c.y, self.client_width
                ));
            }
        }
        problems
    }
}

impl Browser {
    /// Chromium, or `None` (skip, loudly) when `HERALD_SKIP_BROWSER=1` outside CI; panics with
    /// the way to get it otherwise.
    pub fn find() -> Option<Browser> {
        if super::process::skip_requested("HERALD_SKIP_BROWSER", "the report in Chromium") {
            return None;
        }
        let exe = std::env::var_os("HERALD_CHROMIUM").map(PathBuf::from).or_else(|| {
            std::env::var_os("PATH")
                .and_then(|paths| std::env::split_paths(&paths).map(|d| d.join("chromium")).find(|p| p.is_file()))
        });
        match exe {
            Some(exe) => Some(Browser { exe }),
            None => panic!(
                "Chromium not found (HERALD_CHROMIUM, or `chromium` on PATH): run the tests with tests/run, which \
                 installs Debian's chromium, or `apt-get install chromium`; HERALD_SKIP_BROWSER=1 skips (checks nothing)"
            ),
        }
    }

    fn run(&self, profile: &Path, width: u32, height: u32, extra: &[String], page: &Path) -> std::process::Output {
        let mut command = Command::new(&self.exe);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={width},{height}"))
            .args(extra)
            .arg(format!("file://{}", page.display()));
        let out = super::process::output_within(&mut command, CHROMIUM_LIMIT);
        assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
        out
    }

    /// Lays `html` out in a window `width` px wide and looks at it; files go in `dir`, named
    /// after `name`. Below [`NARROWEST_WINDOW`] the page is laid out in a frame that wide
    /// (the screenshot is then [`NARROWEST_WINDOW`] wide, the page on its left).
    pub fn inspect(&self, html: &str, width: u32, dir: &Path, name: &str) -> Inspection {
        let profile = tempfile::tempdir().expect("a chromium profile folder");
        let measured_name = format!("{name}-{width}-measured.html");
        let measured_page = dir.join(&measured_name);
        let with_script = match html.rfind("</body>") {
            Some(i) => format!("{}{MEASURE}{}", &html[..i], &html[i..]),
            None => format!("{html}{MEASURE}"),
        };
        std::fs::write(&measured_page, with_script).expect("writing the measured page");
        let in_frame = width < NARROWEST_WINDOW;
        let window = width.max(NARROWEST_WINDOW);
        let dom = if in_frame {
            let host = dir.join(format!("{name}-{width}-measured-host.html"));
            std::fs::write(&host, framed(&measured_name, width, 900)).expect("writing the host page");
            // The frame's message arrives after the load event: let the page's timers run.
            let args = ["--dump-dom".to_owned(), "--virtual-time-budget=5000".to_owned()];
            self.run(profile.path(), window, 900, &args, &host)
        } else {
            self.run(profile.path(), width, 900, &["--dump-dom".to_owned()], &measured_page)
        };
        let dom = String::from_utf8_lossy(&dom.stdout);
        let encoded = dom
            .split("<pre id=\"herald-layout\"")
            .nth(1)
            .and_then(|rest| rest.split_once('>'))
            .and_then(|(_, rest)| rest.split_once("</pre>"))
            .map(|(b64, _)| b64.trim().to_owned())
            .unwrap_or_else(|| panic!("no measurement in the DOM Chromium dumped:\n{}", &dom[..dom.len().min(2000)]));
        let json = base64::engine::general_purpose::STANDARD.decode(encoded).expect("base64 measurement");
        let layout: Value = serde_json::from_slice(&json).expect("JSON measurement");
        assert_eq!(
            layout["client_width"].as_u64(),
            Some(u64::from(width)),
            "Chromium laid the page out at another width than asked (headless windows are 500 px wide at least)"
        );

        // The screenshot, of the page as it is (no script), the whole height.
        let page_name = format!("{name}.html");
        let page = dir.join(&page_name);
        std::fs::write(&page, html).expect("writing the page");
        let height = layout["scroll_height"].as_u64().unwrap_or(900).clamp(200, 16_000) as u32;
        let screenshot = dir.join(format!("{name}-{width}.png"));
        let shown = if in_frame {
            let host = dir.join(format!("{name}-{width}-host.html"));
            std::fs::write(&host, framed(&page_name, width, height)).expect("writing the host page");
            host
        } else {
            page
        };
        self.run(profile.path(), window, height, &[format!("--screenshot={}", screenshot.display())], &shown);
        let image = Rgb::read(&screenshot);

        let charts = layout["charts"]
            .as_array()
            .expect("charts")
            .iter()
            .map(|c| {
                let f = |k: &str| c[k].as_f64().unwrap_or(0.0);
                let (x, y, w, h) = (f("x"), f("y"), f("width"), f("height"));
                Chart {
                    label: c["label"].as_str().unwrap_or("").to_owned(),
                    x,
                    y,
                    width: w,
                    height: h,
                    marks: c["marks"].as_u64().unwrap_or(0),
                    coloured_pixels: image.coloured_in(x, y, w, h),
                    min_text_px: c["min_text_px"].as_f64(),
                }
            })
            .collect();
        Inspection {
            window_width: width,
            client_width: layout["client_width"].as_u64().unwrap_or(0),
            scroll_width: layout["scroll_width"].as_u64().unwrap_or(0),
            scroll_height: layout["scroll_height"].as_u64().unwrap_or(0),
            overflowing: layout["overflowing"]
                .as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
                .unwrap_or_default(),
            charts,
            screenshot,
        }
    }
}

/// A screenshot's pixels, RGB.
struct Rgb {
    width: usize,
    height: usize,
    pixels: Vec<u8>,
    channels: usize,
}

impl Rgb {
    fn read(path: &Path) -> Rgb {
        let mut decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("the screenshot")));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG size")];
        let info = reader.next_frame(&mut pixels).expect("PNG pixels");
        let channels = info.color_type.samples();
        assert!(channels >= 3, "an RGB screenshot, got {:?}", info.color_type);
        pixels.truncate(info.buffer_size());
        Rgb { width: info.width as usize, height: info.height as usize, pixels, channels }
    }

    fn coloured_in(&self, x: f64, y: f64, w: f64, h: f64) -> usize {
        let (x0, y0) = (x.max(0.0) as usize, y.max(0.0) as usize);
        let (x1, y1) = (((x + w) as usize).min(self.width), ((y + h) as usize).min(self.height));
        let mut n = 0;
        for row in y0..y1 {
            for col in x0..x1 {
                let i = (row * self.width + col) * self.channels;
                let (r, g, b) = (self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]);
                if r.max(g).max(b) - r.min(g).min(b) > COLOUR_SPREAD {
                    n += 1;
                }
            }
        }
        n
    }
}
