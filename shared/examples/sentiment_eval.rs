//! Sentiment benchmark over the labelled comments in `shared/data/sentiment/eval-{en,fr}.csv`.
//!
//! ```text
//! cargo run -p herald-core --release --example sentiment_eval
//! cargo run -p herald-core --release --example sentiment_eval -- --errors   # list the misses
//! cargo run -p herald-core --release --example sentiment_eval -- --data DIR  # other CSVs
//! ```
//!
//! For each language: how often the language is detected, accuracy, per-class precision,
//! recall and F1, macro-F1 and the confusion matrix of `analyse` (which detects the language
//! itself, as the webhook path does), then the throughput of `analyse` on one core. It is a
//! benchmark, not a test: nothing fails on a low number.

use std::error::Error;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use herald_core::domain::SentimentLabel;
use herald_core::listening::sentiment::{Language, analyse, analyse_in, detect_language};

const LABELS: [SentimentLabel; 3] = [
    SentimentLabel::Positive,
    SentimentLabel::Neutral,
    SentimentLabel::Negative,
];

struct Item {
    text: String,
    gold: SentimentLabel,
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut show_errors = false;
    let mut data = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/data/sentiment"));
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--errors" => show_errors = true,
            "--data" => data = PathBuf::from(args.next().ok_or("--data needs a directory")?),
            other => return Err(format!("unknown argument {other:?}").into()),
        }
    }

    // Cold start: the first call builds the shared emoji table and the English lexicon, the
    // first French call the French one.
    let started = Instant::now();
    analyse_in("warm up", Language::En);
    let english_init = started.elapsed();
    let started = Instant::now();
    analyse_in("échauffement", Language::Fr);
    let french_init = started.elapsed();
    println!(
        "lexicons built on first use: en+emoji {:.1} ms, fr {:.1} ms",
        ms(english_init),
        ms(french_init)
    );

    let mut all_texts = Vec::new();
    for (language, file) in [(Language::En, "eval-en.csv"), (Language::Fr, "eval-fr.csv")] {
        let items = read(&data.join(file))?;
        report(language, file, &items, show_errors);
        all_texts.extend(items.into_iter().map(|item| item.text));
    }
    throughput(&all_texts);
    Ok(())
}

fn read(path: &std::path::Path) -> Result<Vec<Item>, Box<dyn Error>> {
    let mut reader =
        csv::Reader::from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut items = Vec::new();
    for record in reader.records() {
        let record = record?;
        let text = record.get(0).ok_or("missing text column")?.to_owned();
        let gold = match record.get(1).map(str::trim) {
            Some("positive") => SentimentLabel::Positive,
            Some("neutral") => SentimentLabel::Neutral,
            Some("negative") => SentimentLabel::Negative,
            other => return Err(format!("{}: bad label {other:?}", path.display()).into()),
        };
        items.push(Item { text, gold });
    }
    Ok(items)
}

fn index(label: SentimentLabel) -> usize {
    match label {
        SentimentLabel::Positive => 0,
        SentimentLabel::Neutral => 1,
        SentimentLabel::Negative => 2,
    }
}

fn name(label: SentimentLabel) -> &'static str {
    match label {
        SentimentLabel::Positive => "positive",
        SentimentLabel::Neutral => "neutral",
        SentimentLabel::Negative => "negative",
    }
}

fn report(language: Language, file: &str, items: &[Item], show_errors: bool) {
    let n = items.len();
    println!("\n== {} ({file}, {n} texts) ==", language.code());
    let detected = items
        .iter()
        .filter(|item| detect_language(&item.text) == language)
        .count();
    println!(
        "language detected as {}: {detected}/{n} ({:.1}%)",
        language.code(),
        pct(detected, n)
    );

    let mut confusion = [[0usize; 3]; 3];
    let mut errors = Vec::new();
    for item in items {
        let sentiment = analyse(&item.text);
        confusion[index(item.gold)][index(sentiment.label)] += 1;
        if sentiment.label != item.gold {
            errors.push((item, sentiment));
        }
    }
    let correct: usize = (0..3).map(|i| confusion[i][i]).sum();
    println!("accuracy: {correct}/{n} ({:.1}%)", pct(correct, n));

    // The same with the language given, to separate detection errors from scoring errors.
    let given = items
        .iter()
        .filter(|item| analyse_in(&item.text, language).label == item.gold)
        .count();
    if given != correct {
        println!(
            "accuracy with the language given: {given}/{n} ({:.1}%)",
            pct(given, n)
        );
    }

    println!(
        "{:<10} {:>9} {:>9} {:>9} {:>8}",
        "class", "precision", "recall", "f1", "support"
    );
    let mut macro_f1 = 0.0;
    for label in LABELS {
        let i = index(label);
        let true_positives = confusion[i][i] as f64;
        let predicted: usize = (0..3).map(|g| confusion[g][i]).sum();
        let support: usize = confusion[i].iter().sum();
        let precision = ratio(true_positives, predicted as f64);
        let recall = ratio(true_positives, support as f64);
        let f1 = ratio(2.0 * precision * recall, precision + recall);
        macro_f1 += f1 / 3.0;
        println!(
            "{:<10} {precision:>9.3} {recall:>9.3} {f1:>9.3} {support:>8}",
            name(label)
        );
    }
    println!("macro-F1: {macro_f1:.3}");

    println!("confusion (rows: gold, columns: predicted)");
    println!(
        "{:<10} {:>9} {:>9} {:>9}",
        "", "positive", "neutral", "negative"
    );
    for label in LABELS {
        let row = confusion[index(label)];
        println!(
            "{:<10} {:>9} {:>9} {:>9}",
            name(label),
            row[0],
            row[1],
            row[2]
        );
    }

    if show_errors {
        println!("misclassified:");
        for (item, sentiment) in errors {
            println!(
                "  gold {:<8} got {:<8} {:>+.3}  {}",
                name(item.gold),
                name(sentiment.label),
                sentiment.score,
                item.text
            );
        }
    }
}

/// `analyse` (language detection included) over all texts, repeated for at least a second.
fn throughput(texts: &[String]) {
    if texts.is_empty() {
        return;
    }
    let bytes: usize = texts.iter().map(String::len).sum();
    let started = Instant::now();
    let mut scored = 0usize;
    let mut checksum = 0.0f32;
    while started.elapsed() < Duration::from_secs(1) || scored < 10 * texts.len() {
        for text in texts {
            checksum += analyse(std::hint::black_box(text)).score;
        }
        scored += texts.len();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let per_second = scored as f64 / elapsed;
    println!(
        "\nthroughput: {per_second:.0} texts/s on one thread ({:.2} µs per text, mean {} bytes; {scored} scored, checksum {checksum:.1})",
        1e6 / per_second,
        bytes / texts.len()
    );

    // A long text (about 20 KiB) for the worst case of one webhook.
    let long: String = texts
        .iter()
        .cycle()
        .take(400)
        .map(|t| format!("{t} "))
        .collect();
    let started = Instant::now();
    let rounds = 50;
    for _ in 0..rounds {
        std::hint::black_box(analyse(std::hint::black_box(&long)));
    }
    println!(
        "long text ({} bytes): {:.2} ms per text",
        long.len(),
        ms(started.elapsed()) / rounds as f64
    );
}

fn ratio(numerator: f64, denominator: f64) -> f64 {
    if denominator == 0.0 {
        0.0
    } else {
        numerator / denominator
    }
}

fn pct(part: usize, whole: usize) -> f64 {
    100.0 * ratio(part as f64, whole as f64)
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}
