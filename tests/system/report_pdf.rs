//! report.pdf looked at: the hand-checked report (tests/system/common/report_dataset.rs) made
//! as `render_all` makes it, its pages drawn by poppler's `pdftoppm` (another PDF reader than
//! the one that wrote it), and each page checked for size and ink. The PNGs are kept in
//! `$CARGO_TARGET_DIR/tmp/report-screenshots/pdf-*.png` for people to look at.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use herald_core::domain::ReportFormat;
use herald_core::services::reports::{self, ReportData};
use herald_core::store::sqlite::SqliteStore;

use crate::common::report_dataset::{self, Fixture, day, utc};

/// A4 at the 50 dpi the pages are drawn at: 595.28 × 841.89 pt.
const A4_AT_50_DPI: (f64, f64) = (595.28 / 72.0 * 50.0, 841.89 / 72.0 * 50.0);

/// poppler's `pdftoppm`: `HERALD_PDFTOPPM`, else on PATH; tests/run installs poppler-utils.
fn pdftoppm() -> PathBuf {
    std::env::var_os("HERALD_PDFTOPPM").map(PathBuf::from).into_iter().chain(
        std::env::var_os("PATH").into_iter().flat_map(|paths| std::env::split_paths(&paths).map(|d| d.join("pdftoppm")).collect::<Vec<_>>()),
    )
    .find(|p| p.is_file())
    .unwrap_or_else(|| {
        panic!(
            "pdftoppm not found (HERALD_PDFTOPPM, or `pdftoppm` on PATH): run the tests with tests/run, which installs \
             Debian's poppler-utils, or `apt-get install poppler-utils`"
        )
    })
}

/// One drawn page: its size in pixels and how many of them are not white.
#[derive(Debug)]
struct Page {
    png: PathBuf,
    width: u32,
    height: u32,
    inked: usize,
    /// Pixels in a saturated colour (the charts' marks; text and rules are grey).
    coloured: usize,
}

impl Page {
    fn read(png: PathBuf) -> Page {
        let mut decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&png).expect("a page PNG")));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().expect("a PNG");
        let mut pixels = vec![0; reader.output_buffer_size().expect("a PNG size")];
        let info = reader.next_frame(&mut pixels).expect("PNG pixels");
        let channels = info.color_type.samples();
        assert!(channels >= 3, "an RGB page, got {:?}", info.color_type);
        pixels.truncate(info.buffer_size());
        let (mut inked, mut coloured) = (0, 0);
        for px in pixels.chunks_exact(channels) {
            let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
            if r.min(g).min(b) < 235 {
                inked += 1;
            }
            if r.max(g).max(b) - r.min(g).min(b) > 80 {
                coloured += 1;
            }
        }
        Page { png, width: info.width, height: info.height, inked, coloured }
    }

    fn share_inked(&self) -> f64 {
        self.inked as f64 / (f64::from(self.width) * f64::from(self.height))
    }
}

/// Writes `pdf` as `<dir>/<name>.pdf`, draws its pages with `pdftoppm -r 50 -png` as
/// `<dir>/pdf-<name>-N.png` and reads them back.
fn draw(pdf: &[u8], dir: &Path, name: &str) -> Vec<Page> {
    let file = dir.join(format!("{name}.pdf"));
    std::fs::write(&file, pdf).expect("the PDF written");
    for old in std::fs::read_dir(dir).expect("the screenshot folder").flatten() {
        let old_name = old.file_name().to_string_lossy().into_owned();
        if old_name.starts_with(&format!("pdf-{name}-")) && old_name.ends_with(".png") {
            std::fs::remove_file(old.path()).expect("an old page removed");
        }
    }
    let prefix = dir.join(format!("pdf-{name}"));
    let done = Command::new(pdftoppm()).args(["-r", "50", "-png"]).arg(&file).arg(&prefix).output().expect("pdftoppm runs");
    assert!(done.status.success(), "pdftoppm {}: {}", file.display(), String::from_utf8_lossy(&done.stderr));
    let mut pngs: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("the screenshot folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with(&format!("pdf-{name}-")) && n.ends_with(".png")))
        .collect();
    // pdf-name-1.png … pdf-name-10.png: by page number, not by text.
    pngs.sort_by_key(|p| p.file_stem().and_then(|s| s.to_str()).and_then(|s| s.rsplit('-').next()).and_then(|n| n.parse::<u32>().ok()));
    pngs.into_iter().map(Page::read).collect()
}

fn screenshots() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("report-screenshots");
    std::fs::create_dir_all(&dir).expect("the screenshot folder");
    dir
}

fn pdf_of(d: &ReportData) -> Vec<u8> {
    reports::render_all(d).into_iter().find(|(f, _)| *f == ReportFormat::Pdf).map(|(_, bytes)| bytes).expect("render_all makes report.pdf")
}

fn assert_a4_and_inked(pages: &[Page], name: &str) {
    for p in pages {
        let (w, h) = (f64::from(p.width), f64::from(p.height));
        assert!((w - A4_AT_50_DPI.0).abs() <= 1.0 && (h - A4_AT_50_DPI.1).abs() <= 1.0, "{name}: {} is {w} x {h} px, not A4", p.png.display());
        // Its header and footer ink about 0.4 % of a page, the emptiest section (a heading and
        // a sentence) another 0.8 %.
        assert!(p.share_inked() > 0.006, "{name}: {} looks blank ({} inked pixels)", p.png.display(), p.inked);
        eprintln!("{name}: {} fine, {:.1} % inked", p.png.display(), p.share_inked() * 100.0);
    }
}

#[tokio::test]
async fn the_hand_checked_reports_pdf_has_five_a4_pages_with_its_charts_in_colour() {
    let f = report_dataset::seed(Arc::new(SqliteStore::in_memory().unwrap())).await;
    let d = reports::build(&*f.store, &f.team, day(report_dataset::FROM), day(report_dataset::TO), utc("2027-01-12T08:00:00Z")).await.unwrap();
    let pages = draw(&pdf_of(&d), &screenshots(), "hand-checked");
    // Key figures and channels; followers and engagement per day; top and bottom posts; best
    // time (heatmap and recommended times); inbox, incidents, failed deliveries, definitions.
    assert_eq!(pages.len(), 5, "{pages:#?}");
    assert_a4_and_inked(&pages, "hand-checked");
    // The charts drawn as report.html draws them, in colour: the followers' lines and the day
    // bars on page 2, the heatmap on page 4. Page 1 has no chart (only
    // the title and its rule in the team's accent colour).
    assert!(pages[1].coloured > 2_000, "page 2's charts: {:?}", pages[1]);
    assert!(pages[3].coloured > 2_000, "page 4's heatmap: {:?}", pages[3]);
    assert!(pages[0].coloured * 2 < pages[1].coloured, "page 1 is figures and a table: {:?} {:?}", pages[0], pages[1]);
}

/// The check can fail: a page with nothing on it is seen as blank.
#[test]
fn a_blank_page_is_seen() {
    // The smallest PDF with one empty A4 page.
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595.28 841.89] >>",
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::new();
    for (i, o) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{o}\nendobj\n", i + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for o in offsets {
        pdf.push_str(&format!("{o:010} 00000 n \n"));
    }
    pdf.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1));
    let pages = draw(pdf.as_bytes(), &screenshots(), "blank");
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].inked, 0, "{:?}", pages[0]);
    let seen = std::panic::catch_unwind(|| assert_a4_and_inked(&pages, "blank")).expect_err("a blank page fails the check");
    let said = seen.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(said.contains("looks blank"), "{said}");
}

/// An empty period: every section says it has nothing, on pages that are not blank.
#[tokio::test]
async fn an_empty_periods_pdf_says_so_on_every_page() {
    let f = Fixture::new(Arc::new(SqliteStore::in_memory().unwrap())).await;
    let d = reports::build(&*f.store, &f.team, day("2027-03-01"), day("2027-03-07"), utc("2027-03-20T00:00:00Z")).await.unwrap();
    assert!(d.is_empty());
    let pages = draw(&pdf_of(&d), &screenshots(), "empty");
    assert!(!pages.is_empty());
    assert_a4_and_inked(&pages, "empty");
}
