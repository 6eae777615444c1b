//! Publishing limits per platform: how long a post's text may be (counted the way each
//! platform counts), how many pictures or videos it may carry, and the few other rules a
//! platform refuses a post for (hashtags and @-mentions on Instagram, links on Threads).
//!
//! [`check_post`] says every broken rule at once, in words a user can act on, so a post is
//! refused at scheduling time rather than failing at publishing time.
//!
//! Facts come from the team handbook `platforms.md` (sections "Publishing" of each platform).
//! Where it marks a fact unverified (🟡 / ❓) the rule here is the *defensive* reading — the
//! count that can only over-estimate — and the comment on the rule says so. Everything is
//! in the [`limits`] table and the counting functions below, so a corrected fact is a
//! one-line change.
//!
//! Nothing here panics on any input: no indexing that can fall off a char boundary, no
//! `unwrap` on input, arithmetic that saturates.

use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;
use unicode_segmentation::UnicodeSegmentation;

use crate::domain::Platform;

/// One broken rule, naming the platform and the rule in words a user can act on,
/// e.g. "text is 312 characters on Bluesky; the limit is 300 (graphemes)".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitViolation {
    pub platform: Platform,
    /// A short machine code: `text_too_long`, `text_too_many_bytes`, `too_many_media`,
    /// `media_required`, `too_many_hashtags`, `too_many_mentions`, `too_many_links`,
    /// `invalid_characters`, `empty_post`.
    pub rule: &'static str,
    pub message: String,
}

impl fmt::Display for LimitViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// How a platform measures the length of a post's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Counting {
    /// Extended grapheme clusters: what a reader sees as one character ("é", "👩‍👩‍👧‍👦", "🇫🇷" are one each).
    Graphemes,
    /// Mastodon's server validator: graphemes, after every `http(s)://` link is replaced by 23
    /// characters and every `@user@domain` mention by `@user`.
    Mastodon,
    /// X / twitter-text v3: NFC, then weight 1 for code points in U+0000–U+10FF, U+2000–U+200D,
    /// U+2010–U+201F, U+2032–U+2037 and 2 for any other; an emoji (sequence) weighs 2 and a link 23.
    TwitterWeighted,
    /// UTF-16 code units (what Java and JavaScript call a string's length): an emoji outside the
    /// Basic Multilingual Plane counts 2, a family emoji 11.
    Utf16,
    /// Threads: graphemes, except that an emoji counts as its number of UTF-8 bytes.
    Threads,
}

impl Counting {
    /// How the count is made, in the words used in messages.
    pub fn describe(self) -> &'static str {
        match self {
            Counting::Graphemes => "graphemes",
            Counting::Mastodon => "graphemes; every link counts as 23 and @user@domain as @user",
            Counting::TwitterWeighted => "weighted: CJK characters and emoji count 2, every link 23",
            Counting::Utf16 => "UTF-16 code units: most emoji count 2 or more",
            Counting::Threads => "graphemes; an emoji counts as its UTF-8 bytes, usually 4 or more",
        }
    }
}

/// Every limit of one platform. `None` means "no limit Herald knows of".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Longest text, counted with `counting`.
    pub max_text: Option<usize>,
    pub counting: Counting,
    /// Longest text in UTF-8 bytes (Bluesky's second limit).
    pub max_text_bytes: Option<usize>,
    /// Fewest pictures or videos (Instagram and TikTok have no text-only posts).
    pub min_media: usize,
    pub max_media: Option<usize>,
    pub max_hashtags: Option<usize>,
    pub max_mentions: Option<usize>,
    /// Most distinct links in the text.
    pub max_links: Option<usize>,
    /// A post with neither text nor media is refused.
    pub requires_content: bool,
    /// The characters twitter-text calls invalid (U+FFFE, U+FEFF, U+FFFF) are refused.
    pub rejects_invalid_characters: bool,
}

impl Limits {
    const NONE: Limits = Limits {
        max_text: None,
        counting: Counting::Graphemes,
        max_text_bytes: None,
        min_media: 0,
        max_media: None,
        max_hashtags: None,
        max_mentions: None,
        max_links: None,
        requires_content: false,
        rejects_invalid_characters: false,
    };
}

/// Sandbox posts go to a local folder; this bound is arbitrary, only there so that a sandbox
/// run exercises the "too long" path like a real network would (not a platform fact).
pub const SANDBOX_MAX_TEXT: usize = 10_000;

/// The limits of `platform`.
pub const fn limits(platform: Platform) -> Limits {
    let real = Limits { requires_content: true, ..Limits::NONE };
    match platform {
        // platforms.md §1.2 ✅: default 500 (an instance may configure more: `GET /api/v2/instance`
        // → configuration.statuses.max_characters; Herald checks the default), 4 attachments by
        // default. Counting rule 🟡 (read from the server validator).
        Platform::Mastodon => Limits {
            max_text: Some(500),
            counting: Counting::Mastodon,
            max_media: Some(4),
            ..real
        },
        // §2.2 ✅: `maxGraphemes: 300` and `maxLength: 3000` (UTF-8 bytes); up to 4 images.
        Platform::Bluesky => Limits {
            max_text: Some(300),
            counting: Counting::Graphemes,
            max_text_bytes: Some(3000),
            max_media: Some(4),
            ..real
        },
        // §3.2 ✅: 280 weighted (twitter-text v3); `media_ids` 1–4.
        Platform::X => Limits {
            max_text: Some(280),
            counting: Counting::TwitterWeighted,
            max_media: Some(4),
            rejects_invalid_characters: true,
            ..real
        },
        // §6.2 ❓ "3000 characters (widely cited; not found in an official page)", counting rule not
        // documented. Defensive: UTF-16 code units (LinkedIn's stack is Java; graphemes or code
        // points can only give a smaller number). Media count: not documented, not checked.
        Platform::Linkedin => Limits {
            max_text: Some(3000),
            counting: Counting::Utf16,
            ..real
        },
        // §5.2 🟡 500 characters, ≤5 unique links per post (✅ since 2025-12-22). Counting rule is
        // ❓ there; Meta's Threads "Posts" page (updated 2026-04-14) says "Emojis are counted as
        // the number of UTF-8 bytes", which is what `Counting::Threads` does. Carousel size is
        // not in platforms.md: 20 is Meta's published carousel limit for Threads as far as we
        // know (unverified; confirm).
        Platform::Threads => Limits {
            max_text: Some(500),
            counting: Counting::Threads,
            max_media: Some(20),
            max_links: Some(5),
            ..real
        },
        // §4.3: no text-only posts ✅; "Maximum 2200 characters, 30 hashtags, and 20 @ tags" 🟡.
        // Counting of "characters" is not documented: defensive UTF-16 code units. Carousel size
        // is not in platforms.md: 10 (Meta's long-standing carousel limit; unverified, confirm).
        Platform::Instagram => Limits {
            max_text: Some(2200),
            counting: Counting::Utf16,
            min_media: 1,
            max_media: Some(10),
            max_hashtags: Some(30),
            max_mentions: Some(20),
            ..real
        },
        // §4.2: "Text length limit ❓". 63,206 is the figure usually quoted for a Page post
        // (unverified, not in platforms.md), counted defensively in UTF-16 code units. Media
        // count: not documented, not checked.
        Platform::Facebook => Limits {
            max_text: Some(63_206),
            counting: Counting::Utf16,
            ..real
        },
        // §7.2: video or photo only 🟡; video caption up to 2200 UTF-16 code units 🟡; photo posts
        // ≤35 images 🟡 (title ≤90, description ≤4000). Herald's text is the caption, and it
        // cannot tell a photo post from a video here, so the caption bound is the video one
        // (2200, the stricter for anything but a photo title).
        Platform::Tiktok => Limits {
            max_text: Some(2200),
            counting: Counting::Utf16,
            min_media: 1,
            max_media: Some(35),
            ..real
        },
        // Rehearses a real network: a post says something.
        Platform::Sandbox => Limits {
            max_text: Some(SANDBOX_MAX_TEXT),
            counting: Counting::Graphemes,
            requires_content: true,
            ..Limits::NONE
        },
        // Generic receives interactions only; nothing is published there.
        Platform::Generic => Limits::NONE,
    }
}

/// The networks a post's first comment is said on, and how long it may be there (counted as
/// [`Limits::counting`] of that network):
///
/// - Instagram: a comment under the post (`POST /{ig-media-id}/comments`, platforms-more.md
///   §8.1 ✅). Its length limit is not in the shared files ⚠️: 2,200 like a caption, counted the
///   caption's defensive way.
/// - Facebook: a comment under the Page's post (`POST /{post-id}/comments`, ⚠️ Meta's comments
///   reference, not in the shared files): the Page post's own bound (63,206 ⚠️).
/// - Threads: a reply, which is a Threads post (platforms-more.md §8.1 ✅): 500, emoji counted
///   as their UTF-8 bytes.
pub fn first_comment_limit(platform: Platform) -> Option<usize> {
    match platform {
        Platform::Instagram | Platform::Facebook | Platform::Threads => limits(platform).max_text,
        _ => None,
    }
}

/// Whether `platform` takes a first comment (see [`first_comment_limit`]).
pub fn takes_first_comment(platform: Platform) -> bool {
    first_comment_limit(platform).is_some()
}

/// Why `platform` would refuse `comment` as a post's first comment, if it would.
pub fn check_first_comment(platform: Platform, comment: &str) -> Option<LimitViolation> {
    let max = first_comment_limit(platform)?;
    let l = limits(platform);
    let n = count(l.counting, comment);
    let what = if platform == Platform::Threads { "first reply" } else { "first comment" };
    (n > max).then(|| LimitViolation {
        platform,
        rule: "text_too_long",
        message: format!(
            "{what} is {n} characters on {}; the limit is {max} ({})",
            display_name(platform),
            l.counting.describe()
        ),
    })
}

/// The network's name as people write it: `Bluesky`, `LinkedIn`.
pub fn display_name(platform: Platform) -> &'static str {
    match platform {
        Platform::Sandbox => "Sandbox",
        Platform::Mastodon => "Mastodon",
        Platform::Bluesky => "Bluesky",
        Platform::X => "X",
        Platform::Linkedin => "LinkedIn",
        Platform::Threads => "Threads",
        Platform::Instagram => "Instagram",
        Platform::Facebook => "Facebook",
        Platform::Tiktok => "TikTok",
        Platform::Generic => "Generic",
    }
}

/// Why `platform` would refuse an uploaded file of `content_type` and `bytes`, if it would:
/// what the adapter refuses at publishing time, said when the post is saved instead. (For a
/// media given by URL Herald knows neither until it fetches it.)
pub fn check_upload(platform: Platform, content_type: &str, bytes: u64) -> Option<String> {
    let video = content_type.starts_with("video/");
    match platform {
        // The adapter posts images only, of at most `MAX_IMAGE_BYTES` (the lexicon's blob limit).
        Platform::Bluesky if video => Some("Herald cannot post videos to Bluesky yet".into()),
        Platform::Bluesky if bytes > super::bluesky::MAX_IMAGE_BYTES => Some(format!(
            "Bluesky takes images of at most {} bytes; this one has {bytes}",
            super::bluesky::MAX_IMAGE_BYTES
        )),
        // The instance's own limit may be lower; this is the adapter's (Mastodon's default).
        Platform::Mastodon if bytes > super::mastodon::DEFAULT_MAX_MEDIA_BYTES => Some(format!(
            "Herald sends Mastodon files of at most {} bytes; this one has {bytes}",
            super::mastodon::DEFAULT_MAX_MEDIA_BYTES
        )),
        // §4.3 ✅ "JPEG is the only image format". Reels as MP4 or MOV, images of at most 8 MB and
        // videos of at most 1 GB are Meta's published media specs, not in platforms.md (⚠️).
        Platform::Instagram if !video && content_type != "image/jpeg" => {
            Some(format!("Instagram takes JPEG images only; this one is {content_type}"))
        }
        Platform::Instagram | Platform::Threads if video && !matches!(content_type, "video/mp4" | "video/quicktime") => {
            Some(format!("{} takes MP4 or MOV videos; this one is {content_type}", display_name(platform)))
        }
        // Threads images: JPEG or PNG (Meta's Threads media specs; not in platforms.md ⚠️).
        Platform::Threads if !video && !matches!(content_type, "image/jpeg" | "image/png") => {
            Some(format!("Threads takes JPEG or PNG images; this one is {content_type}"))
        }
        Platform::Instagram | Platform::Threads if !video && bytes > META_MAX_IMAGE_BYTES => Some(format!(
            "{} takes images of at most {META_MAX_IMAGE_BYTES} bytes; this one has {bytes}",
            display_name(platform)
        )),
        Platform::Instagram | Platform::Threads if video && bytes > META_MAX_VIDEO_BYTES => Some(format!(
            "{} takes videos of at most {META_MAX_VIDEO_BYTES} bytes; this one has {bytes}",
            display_name(platform)
        )),
        // Page photos of at most 10 MB (Meta's photo spec, ⚠️ not in platforms.md); Page videos
        // take far more than Herald's own 1 GB upload bound.
        Platform::Facebook if !video && bytes > FACEBOOK_MAX_IMAGE_BYTES => Some(format!(
            "Facebook takes photos of at most {FACEBOOK_MAX_IMAGE_BYTES} bytes; this one has {bytes}"
        )),
        _ => None,
    }
}

/// Whether `platform`'s servers fetch a post's media from an address Herald gives them (rather
/// than Herald sending the bytes): an upload needs a public address there.
pub fn fetches_media(platform: Platform) -> bool {
    matches!(platform, Platform::Facebook | Platform::Instagram | Platform::Threads)
}

/// Instagram and Threads images: 8 MB (⚠️, see [`check_upload`]).
pub const META_MAX_IMAGE_BYTES: u64 = 8 * 1024 * 1024;
/// Instagram Reels and Threads videos: 1 GB (⚠️).
pub const META_MAX_VIDEO_BYTES: u64 = 1024 * 1024 * 1024;
/// Facebook Page photos: 10 MB (⚠️).
pub const FACEBOOK_MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// Every rule `text` with `media_count` pictures or videos breaks on `platform`; empty = ok.
pub fn check_post(platform: Platform, text: &str, media_count: usize) -> Vec<LimitViolation> {
    let l = limits(platform);
    let name = display_name(platform);
    let mut out = Vec::new();
    let mut broken = |rule: &'static str, message: String| out.push(LimitViolation { platform, rule, message });

    if l.requires_content && text.trim().is_empty() && media_count == 0 {
        broken("empty_post", format!("the post has neither text nor media; {name} needs at least one of them"));
    }
    if let Some(max) = l.max_text {
        let n = count(l.counting, text);
        if n > max {
            broken(
                "text_too_long",
                format!("text is {n} characters on {name}; the limit is {max} ({})", l.counting.describe()),
            );
        }
    }
    if let Some(max) = l.max_text_bytes {
        let n = text.len();
        if n > max {
            broken("text_too_many_bytes", format!("text is {n} bytes (UTF-8) on {name}; the limit is {max} bytes"));
        }
    }
    if l.rejects_invalid_characters {
        let bad: BTreeSet<String> =
            text.chars().filter(|&c| is_twitter_invalid(c)).map(|c| format!("U+{:04X}", u32::from(c))).collect();
        if !bad.is_empty() {
            let them = if bad.len() == 1 { "it" } else { "them" };
            let list: Vec<String> = bad.into_iter().collect();
            broken(
                "invalid_characters",
                format!("text contains {}, which {name} refuses; remove {them}", list.join(", ")),
            );
        }
    }
    if media_count < l.min_media {
        broken(
            "media_required",
            format!(
                "{name} has no text-only posts: attach at least {} picture or video ({media_count} attached)",
                l.min_media
            ),
        );
    }
    if let Some(max) = l.max_media
        && media_count > max
    {
        broken("too_many_media", format!("{media_count} pictures or videos attached on {name}; the limit is {max}"));
    }
    if let Some(max) = l.max_hashtags {
        let n = count_hashtags(text);
        if n > max {
            broken("too_many_hashtags", format!("text has {n} hashtags on {name}; the limit is {max}"));
        }
    }
    if let Some(max) = l.max_mentions {
        let n = count_at_mentions(text);
        if n > max {
            broken("too_many_mentions", format!("text has {n} @-mentions on {name}; the limit is {max}"));
        }
    }
    if let Some(max) = l.max_links {
        let n = count_distinct_links(text);
        if n > max {
            broken("too_many_links", format!("text has {n} different links on {name}; the limit is {max}"));
        }
    }
    out
}

/// The length of `text` the way `platform` counts it (see [`Counting`]). Bluesky also has a
/// byte limit, which is `text.len()`; this returns its grapheme count.
pub fn text_length(platform: Platform, text: &str) -> usize {
    count(limits(platform).counting, text)
}

/// The length of `text` under `counting`.
pub fn count(counting: Counting, text: &str) -> usize {
    match counting {
        Counting::Graphemes => text.graphemes(true).count(),
        Counting::Mastodon => mastodon_length(text),
        Counting::TwitterWeighted => twitter_weighted_length(text),
        Counting::Utf16 => text.encode_utf16().count(),
        Counting::Threads => threads_length(text),
    }
}

// ---------------------------------------------------------------------------------------------
// Mastodon

/// What Mastodon's link placeholder weighs (`characters_reserved_per_url`).
const URL_WEIGHT: usize = 23;

/// What Mastodon's validator puts in a link's place before counting.
const URL_PLACEHOLDER: &str = "xxxxxxxxxxxxxxxxxxxxxxx";

/// Mastodon's `StatusLengthValidator`: rewrite links to 23 characters and `@user@domain` to
/// `@user`, then count graphemes. Only `http(s)://` links count as links (Mastodon extracts
/// URLs with a protocol only); a bare `example.com` counts letter by letter.
fn mastodon_length(text: &str) -> usize {
    let urls = find_urls(text, false);
    let mut countable = String::with_capacity(text.len());
    let mut next_url = urls.iter().peekable();
    let mut prev: Option<char> = None;
    let mut i = 0;
    while let Some(c) = text.get(i..).and_then(|s| s.chars().next()) {
        if let Some(url) = next_url.peek()
            && url.start == i
        {
            countable.push_str(URL_PLACEHOLDER);
            i = url.end;
            prev = text.get(..i).and_then(|s| s.chars().next_back());
            next_url.next();
            continue;
        }
        if c == '@'
            && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '=' || p == '/')
            && let Some((username, end)) = mastodon_mention(text, i)
        {
            countable.push('@');
            countable.push_str(username);
            i = end;
            prev = text.get(..i).and_then(|s| s.chars().next_back());
            continue;
        }
        countable.push(c);
        i += c.len_utf8();
        prev = Some(c);
    }
    countable.graphemes(true).count()
}

/// A remote mention `@user@domain` starting at byte `at` (which holds '@'): the username and
/// the byte just past the mention. Local mentions (`@user`) count as written, so they are not
/// returned. Mirrors Mastodon's `MENTION_RE` (`USERNAME_RE` = `[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?`,
/// domain = word characters joined by `.`/`-`) and twitter-text's end-of-mention rule (not
/// followed by another `@`, a Latin accented letter or `://`).
fn mastodon_mention(text: &str, at: usize) -> Option<(&str, usize)> {
    let user_start = at + 1;
    let user_end = run_end(text, user_start, |c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-');
    let username = text.get(user_start..user_end)?.trim_end_matches(['.', '-']);
    if !username.starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let after_user = user_start + username.len();
    if !text.get(after_user..)?.starts_with('@') {
        return None; // a local mention or no mention: counted as written
    }
    let domain_start = after_user + 1;
    let domain_end = run_end(text, domain_start, |c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-');
    let domain = text.get(domain_start..domain_end)?.trim_end_matches(['.', '-']);
    if !domain.starts_with(|c: char| c.is_alphanumeric() || c == '_') {
        return None;
    }
    let end = domain_start + domain.len();
    let rest = text.get(end..)?;
    if rest.starts_with('@') || rest.starts_with("://") || rest.chars().next().is_some_and(is_latin_accent) {
        return None;
    }
    Some((username, end))
}

/// The byte index where the run of chars matching `keep` that starts at `from` ends.
fn run_end(text: &str, from: usize, keep: impl Fn(char) -> bool) -> usize {
    let Some(rest) = text.get(from..) else { return from };
    rest.char_indices().find(|&(_, c)| !keep(c)).map_or(text.len(), |(j, _)| from + j)
}

/// Latin letters with diacritics (twitter-text's `latin_accents`, roughly).
fn is_latin_accent(c: char) -> bool {
    matches!(
        u32::from(c),
        0xC0..=0xD6
            | 0xD8..=0xF6
            | 0xF8..=0x24F
            | 0x253..=0x254
            | 0x256..=0x257
            | 0x259
            | 0x25B
            | 0x263
            | 0x268
            | 0x26F
            | 0x272
            | 0x289
            | 0x28B
            | 0x2BB
            | 0x300..=0x36F
            | 0x1E00..=0x1EFF
    )
}

// ---------------------------------------------------------------------------------------------
// X (twitter-text v3)

/// twitter-text v3 `parseTweet` weighted length: NFC first; each link counts 23; each emoji
/// (including ZWJ sequences, flags, keycaps, skin tones) counts 2; every other code point
/// counts 1 in U+0000–U+10FF, U+2000–U+200D, U+2010–U+201F, U+2032–U+2037 and 2 elsewhere.
///
/// Differences from twitter-text, all rare: emoji are recognised structurally (any well-formed
/// emoji sequence, not twitter-text's list of known ones); link detection is described on
/// [`find_urls`].
fn twitter_weighted_length(text: &str) -> usize {
    let normalized: String = text.nfc().collect();
    let urls = find_urls(&normalized, true);
    let mut total = 0usize;
    let mut from = 0;
    for url in &urls {
        total = total.saturating_add(twitter_plain_weight(normalized.get(from..url.start).unwrap_or("")));
        total = total.saturating_add(URL_WEIGHT);
        from = url.end;
    }
    total.saturating_add(twitter_plain_weight(normalized.get(from..).unwrap_or("")))
}

/// The weight of text without links.
fn twitter_plain_weight(text: &str) -> usize {
    text.graphemes(true)
        .map(|g| if is_emoji_sequence(g) { 2 } else { g.chars().map(twitter_char_weight).sum() })
        .sum()
}

fn twitter_char_weight(c: char) -> usize {
    match u32::from(c) {
        0..=0x10FF | 0x2000..=0x200D | 0x2010..=0x201F | 0x2032..=0x2037 => 1,
        _ => 2,
    }
}

/// twitter-text refuses a text holding one of these.
fn is_twitter_invalid(c: char) -> bool {
    matches!(c, '\u{FFFE}' | '\u{FEFF}' | '\u{FFFF}')
}

// ---------------------------------------------------------------------------------------------
// Threads

/// Meta: "Text posts are limited to 500 characters. Emojis are counted as the number of UTF-8
/// bytes." Everything that is not an emoji counts one per grapheme.
fn threads_length(text: &str) -> usize {
    text.graphemes(true).map(|g| if is_emoji_cluster(g) { g.len() } else { 1 }).sum()
}

// ---------------------------------------------------------------------------------------------
// Emoji

/// Whether a grapheme cluster is an emoji: a (default-)emoji character, or a well-formed
/// emoji sequence (presentation, modifier, flag, keycap, tag or ZWJ sequence).
fn is_emoji_cluster(g: &str) -> bool {
    let mut chars = g.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) => is_pictographic(c) && !matches!(c, '\u{A9}' | '\u{AE}'),
        (Some(_), Some(_)) => is_emoji_sequence(g),
        _ => false,
    }
}

/// Whether a grapheme cluster of two or more code points is one emoji sequence. Single code
/// points are left to the per-character weight (which gives the same 2 for every emoji but
/// © and ®, which twitter-text treats as text unless followed by U+FE0F).
fn is_emoji_sequence(g: &str) -> bool {
    let mut chars = g.chars();
    let Some(first) = chars.next() else { return false };
    let rest: Vec<char> = chars.collect();
    if rest.is_empty() {
        return false;
    }
    if is_regional_indicator(first) {
        return rest.len() == 1 && rest.iter().all(|&c| is_regional_indicator(c));
    }
    if first.is_ascii_digit() || first == '#' || first == '*' {
        return matches!(rest.as_slice(), ['\u{20E3}'] | ['\u{FE0F}', '\u{20E3}']);
    }
    is_pictographic(first)
        && rest.iter().all(|&c| {
            c == '\u{FE0F}' || c == '\u{200D}' || is_skin_tone(c) || is_tag(c) || is_pictographic(c)
        })
}

fn is_regional_indicator(c: char) -> bool {
    matches!(u32::from(c), 0x1F1E6..=0x1F1FF)
}

fn is_skin_tone(c: char) -> bool {
    matches!(u32::from(c), 0x1F3FB..=0x1F3FF)
}

fn is_tag(c: char) -> bool {
    matches!(u32::from(c), 0xE0020..=0xE007F)
}

/// Unicode's `Extended_Pictographic` property, as ranges (close to emoji-data.txt of Unicode
/// 15; unassigned code points in the emoji blocks are included, as the property does).
fn is_pictographic(c: char) -> bool {
    matches!(
        u32::from(c),
        0xA9 | 0xAE
            | 0x203C
            | 0x2049
            | 0x2122
            | 0x2139
            | 0x2194..=0x2199
            | 0x21A9..=0x21AA
            | 0x231A..=0x231B
            | 0x2328
            | 0x2388
            | 0x23CF
            | 0x23E9..=0x23F3
            | 0x23F8..=0x23FA
            | 0x24C2
            | 0x25AA..=0x25AB
            | 0x25B6
            | 0x25C0
            | 0x25FB..=0x25FE
            | 0x2600..=0x2605
            | 0x2607..=0x2612
            | 0x2614..=0x2685
            | 0x2690..=0x2705
            | 0x2708..=0x2712
            | 0x2714
            | 0x2716
            | 0x271D
            | 0x2721
            | 0x2728
            | 0x2733..=0x2734
            | 0x2744
            | 0x2747
            | 0x274C
            | 0x274E
            | 0x2753..=0x2755
            | 0x2757
            | 0x2763..=0x2767
            | 0x2795..=0x2797
            | 0x27A1
            | 0x27B0
            | 0x27BF
            | 0x2934..=0x2935
            | 0x2B05..=0x2B07
            | 0x2B1B..=0x2B1C
            | 0x2B50
            | 0x2B55
            | 0x3030
            | 0x303D
            | 0x3297
            | 0x3299
            | 0x1F000..=0x1F0FF
            | 0x1F10D..=0x1F10F
            | 0x1F12F
            | 0x1F16C..=0x1F171
            | 0x1F17E..=0x1F17F
            | 0x1F18E
            | 0x1F191..=0x1F19A
            | 0x1F1AD..=0x1F1E5
            | 0x1F201..=0x1F20F
            | 0x1F21A
            | 0x1F22F
            | 0x1F232..=0x1F23A
            | 0x1F23C..=0x1F23F
            | 0x1F249..=0x1F3FA
            | 0x1F400..=0x1F53D
            | 0x1F546..=0x1F64F
            | 0x1F680..=0x1F6FF
            | 0x1F774..=0x1F77F
            | 0x1F7D5..=0x1F7FF
            | 0x1F80C..=0x1F80F
            | 0x1F848..=0x1F84F
            | 0x1F85A..=0x1F85F
            | 0x1F888..=0x1F88F
            | 0x1F8AE..=0x1F8FF
            | 0x1F90C..=0x1F93A
            | 0x1F93C..=0x1F945
            | 0x1F947..=0x1FAFF
            | 0x1FC00..=0x1FFFD
    )
}

// ---------------------------------------------------------------------------------------------
// Hashtags, @-mentions, links (Instagram, Threads)

/// `#tag` occurrences (every occurrence, repeats included: the defensive reading of
/// Instagram's "30 hashtags"). A `#` counts when it starts the text or follows a character
/// that is not a letter, digit, `_` or `&`, and is followed by a letter, digit or `_`.
fn count_hashtags(text: &str) -> usize {
    count_sigils(text, '#', |c| c.is_alphanumeric() || c == '_')
}

/// `@name` occurrences, Instagram usernames being letters, digits, `_` and `.`; an e-mail
/// address is not a mention (its `@` follows a letter).
fn count_at_mentions(text: &str) -> usize {
    count_sigils(text, '@', |c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

fn count_sigils(text: &str, sigil: char, body: impl Fn(char) -> bool) -> usize {
    let mut n = 0;
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == sigil
            && !prev.is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '&' || p == sigil)
            && chars.peek().is_some_and(|&next| body(next))
        {
            n += 1;
        }
        prev = Some(c);
    }
    n
}

/// Distinct links in `text` (with or without `http(s)://`), compared case-insensitively with
/// the scheme and a trailing `/` dropped.
fn count_distinct_links(text: &str) -> usize {
    find_urls(text, true)
        .into_iter()
        .filter_map(|r| text.get(r))
        .map(|u| {
            let u = u.to_lowercase();
            let u = u.strip_prefix("https://").or_else(|| u.strip_prefix("http://")).unwrap_or(&u).to_owned();
            u.trim_end_matches('/').to_owned()
        })
        .collect::<BTreeSet<_>>()
        .len()
}

// ---------------------------------------------------------------------------------------------
// Links (twitter-text's extractor, the parts that change a count)

/// twitter-text's `MAX_URL_LENGTH`.
const MAX_URL_LENGTH: usize = 4096;

/// Byte ranges of the links in `text`, left to right, not overlapping.
///
/// Covered (following twitter-text's extractor): `http://` and `https://` links (any case),
/// with user info, port, IPv4 or `[IPv6]` hosts, internationalised host names (each label
/// at most 63 characters once punycode-encoded, the whole link at most 4096); a link
/// must not follow an ASCII letter or digit, `@`, `$` or `#`; paths keep balanced
/// parentheses and drop trailing punctuation (`.`, `,`, `!`, `?`, `:` …).
///
/// With `bare_domains`, also links without a scheme (`www.example.com`, `example.com/path`,
/// `shop.example.co.uk`): ASCII host names only, not after `-`, `_`, `.` or `/`; the top-level
/// domain must be one of [`COMMON_GENERIC_TLDS`], any two-letter country code, or anything
/// after a `www.` host; a two-label host on a country code (`readme.md`) counts only with a
/// path, as twitter-text does (except `t.co`).
///
/// Not covered: twitter-text's full TLD list (a bare `example.photography` is not a link
/// here; with `https://` any alphabetic TLD is accepted), schemes other than http(s), bare
/// internationalised domains, and t.co's path truncation.
fn find_urls(text: &str, bare_domains: bool) -> Vec<Range<usize>> {
    let mut urls = Vec::new();
    let mut prev: Option<char> = None;
    let mut i = 0;
    while let Some(c) = text.get(i..).and_then(|s| s.chars().next()) {
        if url_may_follow(prev) {
            let scheme_len = ["https://", "http://"]
                .into_iter()
                .find(|s| text.get(i..i + s.len()).is_some_and(|t| t.eq_ignore_ascii_case(s)))
                .map(str::len);
            let end = match scheme_len {
                Some(len) => parse_url_after_scheme(text, i, i + len, true),
                None if bare_domains && c.is_ascii_alphanumeric() && bare_url_may_follow(prev) => {
                    parse_url_after_scheme(text, i, i, false)
                }
                None => None,
            };
            if let Some(end) = end.filter(|&e| e > i) {
                urls.push(i..end);
                i = end;
                prev = text.get(..i).and_then(|s| s.chars().next_back());
                continue;
            }
        }
        i += c.len_utf8();
        prev = Some(c);
    }
    urls
}

/// twitter-text's `valid_url_preceding_chars`: not after an ASCII letter or digit, `@`, `＠`,
/// `$`, `#`, `＃` or an invalid character (directional marks are fine).
fn url_may_follow(prev: Option<char>) -> bool {
    match prev {
        None => true,
        Some(p) => !(p.is_ascii_alphanumeric() || matches!(p, '@' | '＠' | '$' | '#' | '＃') || is_twitter_invalid(p)),
    }
}

/// twitter-text's `invalid_url_without_protocol_preceding_chars`.
fn bare_url_may_follow(prev: Option<char>) -> bool {
    !matches!(prev, Some('-' | '_' | '.' | '/'))
}

/// Parses a link whose scheme (if any) ends at `host_start`; returns the byte just past it.
fn parse_url_after_scheme(text: &str, url_start: usize, host_start: usize, with_scheme: bool) -> Option<usize> {
    let mut i = host_start;
    if with_scheme {
        // user:password@ — twitter-text's valid_url_userinfo.
        let ui_end = run_end(text, i, |c| c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:%".contains(c));
        if ui_end > i && text.get(ui_end..).is_some_and(|r| r.starts_with('@')) {
            i = ui_end + 1;
        }
    }

    let (host_end, host_ascii_len) = if with_scheme && text.get(i..).is_some_and(|r| r.starts_with('[')) {
        // [IPv6]
        let inner_end = run_end(text, i + 1, |c| c.is_ascii_hexdigit() || c == ':' || c == '.');
        if inner_end == i + 1 || !text.get(inner_end..).is_some_and(|r| r.starts_with(']')) {
            return None;
        }
        (inner_end + 1, inner_end + 1 - i)
    } else {
        parse_host(text, i, with_scheme)?
    };
    i = host_end;

    // :port
    if text.get(i..).is_some_and(|r| r.starts_with(':')) {
        let port_end = run_end(text, i + 1, |c| c.is_ascii_digit());
        if port_end > i + 1 {
            i = port_end;
        }
    }

    let has_path = text.get(i..).is_some_and(|r| r.starts_with('/') || r.starts_with('?'));
    if !with_scheme && !has_path && !bare_host_is_link_alone(text.get(host_start..host_end)?) {
        return None;
    }
    if has_path {
        i = parse_path(text, i);
    }

    let host_chars = text.get(host_start..host_end)?.chars().count();
    let url_len = text.get(url_start..i)?.chars().count().saturating_sub(host_chars)
        + host_ascii_len
        + if with_scheme { 0 } else { "https://".len() };
    (url_len <= MAX_URL_LENGTH).then_some(i)
}

/// The host starting at `start`: its end and its length once punycode-encoded, or `None` when
/// there is no valid host there.
fn parse_host(text: &str, start: usize, with_scheme: bool) -> Option<(usize, usize)> {
    let is_label_char = |c: char| {
        c.is_ascii_alphanumeric() || c == '-' || c == '_' || (with_scheme && !c.is_ascii() && c.is_alphanumeric())
    };
    let run = run_end(text, start, |c| is_label_char(c) || c == '.');
    let candidate = text.get(start..run)?;
    // The host stops before an empty label ("a..b") or a trailing dot ("example.com.").
    let host = match candidate.find("..") {
        Some(j) => candidate.get(..j)?,
        None => candidate,
    }
    .trim_end_matches('.');
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || labels.iter().any(|l| l.is_empty()) {
        return None;
    }

    if labels.iter().all(|l| l.chars().all(|c| c.is_ascii_digit())) {
        // IPv4: only with a scheme, four octets of at most 255.
        let octet = |l: &&str| l.len() <= 3 && l.parse::<u16>().is_ok_and(|n| n <= 255);
        let ok = with_scheme && labels.len() == 4 && labels.iter().all(octet);
        return ok.then_some((start + host.len(), host.len()));
    }

    let tld = labels.last()?;
    let tld_ok = if let Some(puny) = tld.strip_prefix("xn--") {
        !puny.is_empty() && puny.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    } else {
        tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic)
    };
    if !tld_ok {
        return None;
    }
    if !with_scheme && !bare_tld_known(host, tld) {
        return None;
    }

    let mut ascii_len = labels.len() - 1; // the dots
    let registrable = labels.len().saturating_sub(2);
    for (k, label) in labels.iter().enumerate() {
        if label.starts_with('-') || label.ends_with('-') {
            return None;
        }
        if k >= registrable && label.contains('_') {
            return None; // underscores only in subdomains
        }
        // Punycode never makes a label shorter: skip encoding what cannot fit.
        if label.chars().count() > 63 {
            return None;
        }
        let encoded = punycode_label_len(label)?;
        if encoded > 63 {
            return None;
        }
        ascii_len += encoded;
    }
    Some((start + host.len(), ascii_len))
}

/// Generic top-level domains recognised without `http(s)://` (twitter-text knows ~1,500; these
/// are the common ones). Any two-letter TLD is taken as a country code.
pub const COMMON_GENERIC_TLDS: &[&str] = &[
    "aero", "agency", "app", "art", "asia", "bar", "biz", "blog", "cat", "cloud", "club", "com", "coop", "design",
    "dev", "edu", "email", "eus", "events", "gay", "gov", "info", "int", "jobs", "link", "live", "ltd", "media",
    "mil", "mobi", "museum", "name", "net", "news", "ninja", "online", "org", "page", "photo", "photography", "pro",
    "shop", "site", "social", "space", "store", "studio", "tech", "tel", "today", "travel", "website", "wiki",
    "work", "world", "xxx", "xyz", "zone",
];

fn bare_tld_known(host: &str, tld: &str) -> bool {
    let tld = tld.to_ascii_lowercase();
    (tld.len() == 2 && tld.chars().all(|c| c.is_ascii_alphabetic()))
        || COMMON_GENERIC_TLDS.contains(&tld.as_str())
        || host.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("www."))
}

/// twitter-text: a bare `name.cc` (one label on a country code, no path) is not a link,
/// except `t.co`.
fn bare_host_is_link_alone(host: &str) -> bool {
    let labels: Vec<&str> = host.split('.').collect();
    let cc = labels.last().is_some_and(|t| t.len() == 2);
    !(cc && labels.len() == 2) || host.eq_ignore_ascii_case("t.co")
}

/// Path, query and fragment starting at `start` (a `/` or `?`): the byte just past them.
fn parse_path(text: &str, start: usize) -> usize {
    let mut depth = 0usize;
    let mut last_good = start;
    let Some(rest) = text.get(start..) else { return start };
    for (j, c) in rest.char_indices() {
        if !is_url_path_char(c) {
            break;
        }
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => break,
            ')' => depth -= 1,
            _ => {}
        }
        if is_url_ending_char(c) {
            last_good = start + j + c.len_utf8();
        }
    }
    last_good
}

/// twitter-text's path and query characters: ASCII letters and digits, Latin and Cyrillic
/// letters, and `!*';:=+,.$/%#[]-_~|&@?()` and `–`.
fn is_url_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "!*';:=+,.$/%#[]-_~|&@?()\u{2013}".contains(c)
        || (c.is_alphabetic() && (is_latin_accent(c) || matches!(u32::from(c), 0x400..=0x52F)))
}

/// What a link may end with: letters, digits, `=_#/+-&` and a (balanced) `)`.
fn is_url_ending_char(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || "=_#/+-&)".contains(c)
        || (c.is_alphabetic() && (is_latin_accent(c) || matches!(u32::from(c), 0x400..=0x52F)))
}

/// The length of a host label once encoded for DNS: itself if ASCII, else `xn--` + its
/// punycode (RFC 3492). `None` on overflow (absurd inputs).
fn punycode_label_len(label: &str) -> Option<usize> {
    const BASE: u32 = 36;
    const T_MIN: u32 = 1;
    const T_MAX: u32 = 26;
    let cps: Vec<u32> = label.chars().map(u32::from).collect();
    let basic = cps.iter().filter(|&&c| c < 0x80).count();
    if basic == cps.len() {
        return Some(basic);
    }
    let mut out = basic + usize::from(basic > 0);
    let (mut n, mut delta, mut bias) = (0x80u32, 0u32, 72u32);
    let mut h = u32::try_from(basic).ok()?;
    let b = h;
    let len = u32::try_from(cps.len()).ok()?;
    while h < len {
        let m = cps.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(h.checked_add(1)?)?)?;
        n = m;
        for &c in &cps {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = if k <= bias {
                        T_MIN
                    } else if k >= bias + T_MAX {
                        T_MAX
                    } else {
                        k - bias
                    };
                    if q < t {
                        break;
                    }
                    out += 1;
                    q = (q - t) / (BASE - t);
                    k = k.checked_add(BASE)?;
                }
                out += 1;
                bias = punycode_adapt(delta, h + 1, h == b);
                delta = 0;
                h += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some("xn--".len() + out)
}

fn punycode_adapt(delta: u32, num_points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / num_points.max(1);
    let mut k = 0;
    while delta > ((36 - 1) * 26) / 2 {
        delta /= 35;
        k += 36;
    }
    k + (36 * delta) / (delta + 38)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAMILY: &str = "\u{1F469}\u{200D}\u{1F469}\u{200D}\u{1F467}\u{200D}\u{1F466}"; // 👩‍👩‍👧‍👦, 25 bytes
    const FLAG_FR: &str = "\u{1F1EB}\u{1F1F7}"; // 🇫🇷, 8 bytes
    const E_ACUTE_DECOMPOSED: &str = "e\u{301}"; // é as two code points, 3 bytes
    const THUMBS_UP_MEDIUM: &str = "\u{1F44D}\u{1F3FD}"; // 👍🏽
    const KEYCAP_ONE: &str = "1\u{FE0F}\u{20E3}"; // 1️⃣
    const GRINNING: &str = "\u{1F600}"; // 😀, 4 bytes, 2 UTF-16 units
    const CJK: &str = "\u{6F22}"; // 漢

    fn rules(platform: Platform, text: &str, media: usize) -> Vec<&'static str> {
        check_post(platform, text, media).into_iter().map(|v| v.rule).collect()
    }

    fn ok(platform: Platform, text: &str, media: usize) {
        let v = check_post(platform, text, media);
        assert!(v.is_empty(), "{platform}: expected no violation, got {v:?}");
    }

    // ----- Mastodon ---------------------------------------------------------------------

    #[test]
    fn mastodon_500_plain_characters_pass_501_fail() {
        ok(Platform::Mastodon, &"a".repeat(500), 0);
        let v = check_post(Platform::Mastodon, &"a".repeat(501), 0);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "text_too_long");
        assert_eq!(v[0].platform, Platform::Mastodon);
        assert!(v[0].message.starts_with("text is 501 characters on Mastodon; the limit is 500 ("), "{}", v[0].message);
    }

    #[test]
    fn mastodon_counts_graphemes_not_code_points() {
        assert_eq!(text_length(Platform::Mastodon, &E_ACUTE_DECOMPOSED.repeat(500)), 500);
        ok(Platform::Mastodon, &E_ACUTE_DECOMPOSED.repeat(500), 0);
        assert_eq!(rules(Platform::Mastodon, &E_ACUTE_DECOMPOSED.repeat(501), 0), ["text_too_long"]);
        assert_eq!(text_length(Platform::Mastodon, FAMILY), 1);
        assert_eq!(text_length(Platform::Mastodon, FLAG_FR), 1);
        ok(Platform::Mastodon, &FAMILY.repeat(500), 0);
        assert_eq!(rules(Platform::Mastodon, &FAMILY.repeat(501), 0), ["text_too_long"]);
    }

    #[test]
    fn mastodon_links_count_23_whatever_their_length() {
        let url = format!("https://example.org/{}", "long-path/".repeat(30));
        assert_eq!(text_length(Platform::Mastodon, &url), 23);
        assert_eq!(text_length(Platform::Mastodon, "http://a.co"), 23); // shorter links count 23 too
        let at_limit = format!("{} {url}", "b".repeat(476)); // 476 + 1 + 23
        assert_eq!(text_length(Platform::Mastodon, &at_limit), 500);
        ok(Platform::Mastodon, &at_limit, 0);
        assert_eq!(rules(Platform::Mastodon, &format!("b{at_limit}"), 0), ["text_too_long"]);
    }

    #[test]
    fn mastodon_counts_bare_domains_letter_by_letter() {
        // Mastodon only shortens links with a scheme.
        assert_eq!(text_length(Platform::Mastodon, "see www.example.com"), 19);
        assert_eq!(text_length(Platform::Mastodon, "see https://www.example.com"), 4 + 23);
    }

    #[test]
    fn mastodon_remote_mentions_count_as_the_local_part() {
        assert_eq!(text_length(Platform::Mastodon, "@alice@example.social"), "@alice".len());
        assert_eq!(text_length(Platform::Mastodon, "hi @alice@very-long-instance-name.example.social!"), 3 + 6 + 1);
        // A local mention counts as written; so does an e-mail address.
        assert_eq!(text_length(Platform::Mastodon, "@alice"), 6);
        assert_eq!(text_length(Platform::Mastodon, "bob@example.social"), 18);
        // A trailing dot ends the sentence, not the domain.
        assert_eq!(text_length(Platform::Mastodon, "@alice@example.social."), 7);
        let at_limit = format!("@alice@mastodon.example.social {}", "c".repeat(493)); // 6 + 1 + 493
        assert_eq!(text_length(Platform::Mastodon, &at_limit), 500);
        ok(Platform::Mastodon, &at_limit, 0);
        assert_eq!(rules(Platform::Mastodon, &format!("{at_limit}c"), 0), ["text_too_long"]);
    }

    #[test]
    fn mastodon_links_win_over_mentions_inside_them() {
        assert_eq!(text_length(Platform::Mastodon, "https://example.social/@alice@other.example"), 23);
    }

    #[test]
    fn mastodon_media_4_pass_5_fail() {
        ok(Platform::Mastodon, "pics", 4);
        let v = check_post(Platform::Mastodon, "pics", 5);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "too_many_media");
        assert_eq!(v[0].message, "5 pictures or videos attached on Mastodon; the limit is 4");
    }

    // ----- Bluesky ----------------------------------------------------------------------

    #[test]
    fn bluesky_300_graphemes_pass_301_fail_with_the_documented_message() {
        ok(Platform::Bluesky, &"a".repeat(300), 0);
        let v = check_post(Platform::Bluesky, &"a".repeat(301), 0);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "text_too_long");
        assert_eq!(v[0].message, "text is 301 characters on Bluesky; the limit is 300 (graphemes)");
        let v = check_post(Platform::Bluesky, &"z".repeat(312), 0);
        assert_eq!(v[0].message, "text is 312 characters on Bluesky; the limit is 300 (graphemes)");
    }

    #[test]
    fn bluesky_combining_accents_and_flags_are_one_grapheme_each() {
        ok(Platform::Bluesky, &E_ACUTE_DECOMPOSED.repeat(300), 0); // 900 bytes
        assert_eq!(rules(Platform::Bluesky, &E_ACUTE_DECOMPOSED.repeat(301), 0), ["text_too_long"]);
        ok(Platform::Bluesky, &FLAG_FR.repeat(300), 0); // 2400 bytes
        assert_eq!(text_length(Platform::Bluesky, &FLAG_FR.repeat(301)), 301);
        assert_eq!(rules(Platform::Bluesky, &FLAG_FR.repeat(301), 0), ["text_too_long"]);
    }

    #[test]
    fn bluesky_byte_limit_bites_before_the_grapheme_limit() {
        assert_eq!(FAMILY.len(), 25);
        // 120 families: 120 graphemes, exactly 3000 bytes.
        ok(Platform::Bluesky, &FAMILY.repeat(120), 0);
        // 121 families: 121 graphemes (fine) but 3025 bytes.
        let v = check_post(Platform::Bluesky, &FAMILY.repeat(121), 0);
        assert_eq!(v.len(), 1, "{v:?}");
        assert_eq!(v[0].rule, "text_too_many_bytes");
        assert_eq!(v[0].message, "text is 3025 bytes (UTF-8) on Bluesky; the limit is 3000 bytes");
        // Both limits at once: 301 graphemes and 7525 bytes.
        assert_eq!(rules(Platform::Bluesky, &FAMILY.repeat(301), 0), ["text_too_long", "text_too_many_bytes"]);
    }

    #[test]
    fn bluesky_counts_links_in_full() {
        let url = format!("https://example.com/{}", "p".repeat(280)); // 300 characters
        assert_eq!(text_length(Platform::Bluesky, &url), 300);
        ok(Platform::Bluesky, &url, 0);
        assert_eq!(rules(Platform::Bluesky, &format!("{url}q"), 0), ["text_too_long"]);
    }

    #[test]
    fn bluesky_media_4_pass_5_fail() {
        ok(Platform::Bluesky, "", 4);
        assert_eq!(rules(Platform::Bluesky, "", 5), ["too_many_media"]);
    }

    // ----- X ------------------------------------------------------------------------------

    #[test]
    fn x_280_latin_characters_pass_281_fail() {
        ok(Platform::X, &"x".repeat(280), 0);
        let v = check_post(Platform::X, &"x".repeat(281), 0);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "text_too_long");
        assert!(v[0].message.starts_with("text is 281 characters on X; the limit is 280 (weighted"), "{}", v[0].message);
    }

    #[test]
    fn x_cjk_weighs_2() {
        assert_eq!(text_length(Platform::X, CJK), 2);
        ok(Platform::X, &CJK.repeat(140), 0);
        assert_eq!(text_length(Platform::X, &CJK.repeat(141)), 282);
        assert_eq!(rules(Platform::X, &CJK.repeat(141), 0), ["text_too_long"]);
        // 3 Latin letters + 139 CJK = 281.
        assert_eq!(text_length(Platform::X, &format!("the{}", CJK.repeat(139))), 281);
        // Hiragana and Hangul are outside the weight-1 ranges too.
        assert_eq!(text_length(Platform::X, "\u{3042}\u{D55C}"), 4);
    }

    #[test]
    fn x_weight_1_ranges_have_exact_edges() {
        assert_eq!(text_length(Platform::X, "\u{10FF}"), 1);
        assert_eq!(text_length(Platform::X, "\u{1100}"), 2);
        assert_eq!(text_length(Platform::X, "\u{2000}\u{200D}"), 2); // both weight 1 (a lone ZWJ)
        assert_eq!(text_length(Platform::X, "\u{200E}"), 2);
        assert_eq!(text_length(Platform::X, "\u{2010}\u{201F}"), 2);
        assert_eq!(text_length(Platform::X, "\u{2020}"), 2);
        assert_eq!(text_length(Platform::X, "\u{2032}\u{2037}"), 2);
        assert_eq!(text_length(Platform::X, "\u{2038}"), 2);
        assert_eq!(text_length(Platform::X, "\u{2031}"), 2);
        // Latin, Greek, Cyrillic, Arabic, Hebrew, Devanagari, Thai: all below U+10FF.
        assert_eq!(text_length(Platform::X, "aαжعש\u{915}\u{E01}"), 7);
        // “Smart quotes” – and dashes — weigh 1.
        assert_eq!(text_length(Platform::X, "\u{201C}a\u{201D} \u{2013} \u{2014}"), 7);
    }

    #[test]
    fn x_normalises_to_nfc_first() {
        assert_eq!(text_length(Platform::X, E_ACUTE_DECOMPOSED), 1); // → U+00E9
        ok(Platform::X, &E_ACUTE_DECOMPOSED.repeat(280), 0);
        assert_eq!(rules(Platform::X, &E_ACUTE_DECOMPOSED.repeat(281), 0), ["text_too_long"]);
        // q + acute has no precomposed form: two code points of weight 1.
        assert_eq!(text_length(Platform::X, "q\u{301}"), 2);
        // Hangul jamo compose into one syllable (weight 2) instead of three jamo (6).
        assert_eq!(text_length(Platform::X, "\u{1112}\u{1161}\u{11AB}"), 2);
    }

    #[test]
    fn x_every_emoji_weighs_2_even_as_a_sequence() {
        assert_eq!(text_length(Platform::X, GRINNING), 2);
        assert_eq!(text_length(Platform::X, FAMILY), 2);
        assert_eq!(text_length(Platform::X, FLAG_FR), 2);
        assert_eq!(text_length(Platform::X, THUMBS_UP_MEDIUM), 2);
        assert_eq!(text_length(Platform::X, KEYCAP_ONE), 2);
        assert_eq!(text_length(Platform::X, "\u{2764}\u{FE0F}"), 2); // ❤️
        assert_eq!(text_length(Platform::X, "\u{2764}\u{FE0F}\u{200D}\u{1F525}"), 2); // ❤️‍🔥
        // 🏴󠁧󠁢󠁳󠁣󠁴󠁿 (a tag sequence: black flag + "gbsct" tags + cancel tag)
        let scotland = "\u{1F3F4}\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}";
        assert_eq!(text_length(Platform::X, scotland), 2);
        // © alone is text (weight 1); with VS16 it is an emoji (2, not 1 + 2).
        assert_eq!(text_length(Platform::X, "\u{A9}"), 1);
        assert_eq!(text_length(Platform::X, "\u{A9}\u{FE0F}"), 2);
        // Text around emoji: "Go " + 🇫🇷 + "! " + 👍🏽 = 3 + 2 + 2 + 2.
        assert_eq!(text_length(Platform::X, &format!("Go {FLAG_FR}! {THUMBS_UP_MEDIUM}")), 9);
        ok(Platform::X, &FAMILY.repeat(140), 0);
        assert_eq!(rules(Platform::X, &FAMILY.repeat(141), 0), ["text_too_long"]);
    }

    #[test]
    fn x_emoji_followed_by_a_combining_mark_is_not_a_sequence() {
        // 👍 (2) + U+0301 (1): twitter-text's emoji pattern stops before the accent.
        assert_eq!(text_length(Platform::X, "\u{1F44D}\u{301}"), 3);
        // ☺ with the text-presentation selector: 2 + 2.
        assert_eq!(text_length(Platform::X, "\u{263A}\u{FE0E}"), 4);
    }

    #[test]
    fn x_links_weigh_23() {
        let long = format!("https://example.com/{}", "segment/".repeat(40));
        assert_eq!(text_length(Platform::X, &long), 23);
        assert_eq!(text_length(Platform::X, "http://t.co"), 23);
        assert_eq!(text_length(Platform::X, "HTTPS://WWW.Example.COM/Index.html"), 23);
        assert_eq!(text_length(Platform::X, "Hi https://herald.test/x"), 3 + 23);
        let at_limit = format!("{} {long}", "y".repeat(256)); // 256 + 1 + 23
        assert_eq!(text_length(Platform::X, &at_limit), 280);
        ok(Platform::X, &at_limit, 0);
        assert_eq!(rules(Platform::X, &format!("y{at_limit}"), 0), ["text_too_long"]);
        // Ten links and ten spaces: 10 × 24.
        assert_eq!(text_length(Platform::X, &"https://www.example.com/aloha ".repeat(10)), 240);
    }

    #[test]
    fn x_bare_domains_and_www_are_links() {
        assert_eq!(text_length(Platform::X, "www.example.com"), 23);
        assert_eq!(text_length(Platform::X, "go to example.com now"), 6 + 23 + 4);
        assert_eq!(text_length(Platform::X, "example.org/path?q=1"), 23);
        assert_eq!(text_length(Platform::X, "shop.example.co.uk"), 23);
        assert_eq!(text_length(Platform::X, "www.herald.example"), 23); // any TLD after www.
        // A bare two-label host on a country code is a link only with a path (t.co excepted).
        assert_eq!(text_length(Platform::X, "readme.md"), 9);
        assert_eq!(text_length(Platform::X, "herald.fr/blog"), 23);
        assert_eq!(text_length(Platform::X, "t.co"), 23);
        // Unknown generic TLD without a scheme: not a link here (documented gap).
        assert_eq!(text_length(Platform::X, "otters.otters"), 13);
        // Not after '/', '.', '-', '_' (so no link hides inside a longer token).
        assert_eq!(text_length(Platform::X, "x/example.com"), 13);
    }

    #[test]
    fn x_link_ends_before_trailing_punctuation_and_unbalanced_parentheses() {
        assert_eq!(text_length(Platform::X, "see https://example.com/a."), 4 + 23 + 1);
        assert_eq!(text_length(Platform::X, "see https://example.com/a?!"), 4 + 23 + 2);
        assert_eq!(text_length(Platform::X, "(https://example.com/a)"), 1 + 23 + 1);
        assert_eq!(text_length(Platform::X, "(https://en.wikipedia.org/wiki/Rust_(language))"), 1 + 23 + 1);
        assert_eq!(text_length(Platform::X, "https://example.com/path-"), 23); // '-' may end a link
        assert_eq!(text_length(Platform::X, "\"https://example.com/q\""), 1 + 23 + 1);
        // A link does not follow a letter, digit, @, $ or #.
        assert_eq!(text_length(Platform::X, "xhttps://example.com"), 20);
        // Cyrillic in the path belongs to the link; CJK after it does not.
        assert_eq!(text_length(Platform::X, "https://example.com/Русские_слова"), 23);
        assert_eq!(text_length(Platform::X, &format!("https://example.com/a{CJK}")), 23 + 2);
    }

    #[test]
    fn x_link_hosts_follow_dns_rules() {
        assert_eq!(text_length(Platform::X, "http://user:PASSW0RD@example.com:8080/login.php"), 23);
        assert_eq!(text_length(Platform::X, "http://192.168.0.1/index.html"), 23);
        assert_eq!(text_length(Platform::X, "http://[2001:db8::1]:80/index.html"), 23);
        assert_eq!(text_length(Platform::X, "http://test_underscore.example.com"), 23);
        // Invalid hosts are not links: every character counts.
        assert_eq!(text_length(Platform::X, "http://256.1.2.3/"), 17);
        assert_eq!(text_length(Platform::X, "http://www.-example.com/x"), 25);
        assert_eq!(text_length(Platform::X, "http://under_score.com/x"), 24);
        assert_eq!(text_length(Platform::X, "http://localhost/x"), 18);
        // A 63-character label is fine, 64 is not.
        let label63 = "a".repeat(63);
        assert_eq!(text_length(Platform::X, &format!("http://{label63}.com")), 23);
        assert_eq!(text_length(Platform::X, &format!("{}.com", "a".repeat(64))), 68);
        assert_eq!(text_length(Platform::X, &format!("http://{}.com", "a".repeat(64))), 7 + 68);
    }

    #[test]
    fn x_internationalised_hosts_are_measured_in_punycode() {
        // 52 hiragana encode to a 63-character label (a link), 53 to 64 (not a link).
        let kana = "\u{3042}\u{3044}\u{3046}\u{3048}\u{304A}\u{304B}\u{304D}\u{304F}\u{3051}\u{3053}";
        let host52: String = kana.repeat(6).chars().take(52).collect();
        let host53: String = kana.repeat(6).chars().take(53).collect();
        assert_eq!(text_length(Platform::X, &format!("http://{host52}.com")), 23);
        assert_eq!(text_length(Platform::X, &format!("http://{host53}.com")), 7 + 53 * 2 + 4);
        // A non-Latin TLD with a scheme, between directional isolates (weight 2 each).
        let pakistan = "\u{67E}\u{627}\u{6A9}\u{633}\u{62A}\u{627}\u{646}";
        assert_eq!(text_length(Platform::X, &format!("\u{2066}http://foobar.{pakistan}/\u{2069}")), 2 + 23 + 2);
    }

    #[test]
    fn punycode_lengths_match_rfc_3492() {
        assert_eq!(punycode_label_len("example"), Some(7));
        assert_eq!(punycode_label_len("bücher"), Some("xn--bcher-kva".len()));
        // RFC 3492 sample (B), Chinese (simplified): ihqwcrb4cv8a8dqg056pqjye.
        assert_eq!(punycode_label_len("他们为什么不说中文"), Some(4 + 24));
        assert_eq!(punycode_label_len("パキスタン"), Some("xn--nckyas3e3i".len()));
    }

    #[test]
    fn x_refuses_invalid_characters() {
        let v = check_post(Platform::X, "ABC\u{FFFF}DEF\u{FFFE}", 0);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "invalid_characters");
        assert_eq!(v[0].message, "text contains U+FFFE, U+FFFF, which X refuses; remove them");
        assert_eq!(check_post(Platform::X, "\u{FEFF}hi", 0)[0].message, "text contains U+FEFF, which X refuses; remove it");
        // Elsewhere they are just characters.
        ok(Platform::Mastodon, "ABC\u{FFFF}", 0);
    }

    #[test]
    fn x_media_4_pass_5_fail_and_media_only_posts_are_fine() {
        ok(Platform::X, "", 4);
        assert_eq!(rules(Platform::X, "", 5), ["too_many_media"]);
        assert_eq!(rules(Platform::X, "  \n", 0), ["empty_post"]);
    }

    // ----- LinkedIn ---------------------------------------------------------------------

    #[test]
    fn linkedin_3000_utf16_units() {
        ok(Platform::Linkedin, &"l".repeat(3000), 0);
        assert_eq!(rules(Platform::Linkedin, &"l".repeat(3001), 0), ["text_too_long"]);
        // 😀 is two UTF-16 units: 1500 of them fill the post.
        assert_eq!(text_length(Platform::Linkedin, GRINNING), 2);
        ok(Platform::Linkedin, &GRINNING.repeat(1500), 0);
        assert_eq!(rules(Platform::Linkedin, &format!("{}l", GRINNING.repeat(1500)), 0), ["text_too_long"]);
        assert_eq!(text_length(Platform::Linkedin, FAMILY), 11);
        assert_eq!(text_length(Platform::Linkedin, E_ACUTE_DECOMPOSED), 2);
        assert_eq!(text_length(Platform::Linkedin, CJK), 1);
        ok(Platform::Linkedin, "", 9); // media count unknown: not checked
    }

    // ----- First comments -------------------------------------------------------------
    #[test]
    fn first_comments_are_bounded_where_they_are_said() {
        assert_eq!(check_first_comment(Platform::Instagram, &"#".repeat(2200)), None);
        let v = check_first_comment(Platform::Instagram, &"i".repeat(2201)).unwrap();
        assert_eq!(v.rule, "text_too_long");
        assert!(v.message.starts_with("first comment is 2201 characters on Instagram; the limit is 2200"), "{}", v.message);
        // A Threads reply counts emoji as their UTF-8 bytes, like a Threads post.
        assert_eq!(check_first_comment(Platform::Threads, &GRINNING.repeat(125)), None);
        let v = check_first_comment(Platform::Threads, &GRINNING.repeat(126)).unwrap();
        assert!(v.message.starts_with("first reply is 504 characters on Threads; the limit is 500"), "{}", v.message);
        assert_eq!(check_first_comment(Platform::Facebook, &"f".repeat(63_206)), None);
        assert!(check_first_comment(Platform::Facebook, &"f".repeat(63_207)).is_some());
        // Networks without one say nothing here: the service refuses the field for them.
        assert_eq!(check_first_comment(Platform::Mastodon, &"m".repeat(10_000)), None);
        assert!(!takes_first_comment(Platform::Bluesky) && takes_first_comment(Platform::Threads));
    }

    // ----- Threads ----------------------------------------------------------------------

    #[test]
    fn threads_500_characters_with_emoji_counted_in_utf8_bytes() {
        ok(Platform::Threads, &"t".repeat(500), 0);
        assert_eq!(rules(Platform::Threads, &"t".repeat(501), 0), ["text_too_long"]);
        assert_eq!(text_length(Platform::Threads, GRINNING), 4);
        assert_eq!(text_length(Platform::Threads, FAMILY), 25);
        assert_eq!(text_length(Platform::Threads, FLAG_FR), 8);
        assert_eq!(text_length(Platform::Threads, E_ACUTE_DECOMPOSED), 1);
        assert_eq!(text_length(Platform::Threads, CJK), 1);
        ok(Platform::Threads, &GRINNING.repeat(125), 0);
        assert_eq!(rules(Platform::Threads, &GRINNING.repeat(126), 0), ["text_too_long"]);
        ok(Platform::Threads, &format!("{}{}", FAMILY.repeat(19), "t".repeat(25)), 0); // 475 + 25
        assert_eq!(rules(Platform::Threads, &format!("{}{}", FAMILY.repeat(20), "t"), 0), ["text_too_long"]);
    }

    #[test]
    fn threads_allows_5_distinct_links() {
        let five: Vec<String> = (1..=5).map(|k| format!("https://example.com/{k}")).collect();
        ok(Platform::Threads, &five.join(" "), 0);
        // Repeating a link (even spelt differently) does not make it a new one.
        ok(Platform::Threads, &format!("{} HTTPS://EXAMPLE.COM/1 example.com/2", five.join(" ")), 0);
        let v = check_post(Platform::Threads, &format!("{} www.example.org", five.join(" ")), 0);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "too_many_links");
        assert_eq!(v[0].message, "text has 6 different links on Threads; the limit is 5");
    }

    #[test]
    fn threads_carousels_up_to_20() {
        ok(Platform::Threads, "carousel", 20);
        assert_eq!(rules(Platform::Threads, "carousel", 21), ["too_many_media"]);
        ok(Platform::Threads, "text only", 0);
    }

    // ----- Instagram --------------------------------------------------------------------

    #[test]
    fn instagram_needs_media() {
        let v = check_post(Platform::Instagram, "a caption", 0);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "media_required");
        assert_eq!(v[0].message, "Instagram has no text-only posts: attach at least 1 picture or video (0 attached)");
        ok(Platform::Instagram, "", 1);
        ok(Platform::Instagram, "", 10);
        assert_eq!(rules(Platform::Instagram, "", 11), ["too_many_media"]);
    }

    #[test]
    fn instagram_caption_2200() {
        ok(Platform::Instagram, &"i".repeat(2200), 1);
        assert_eq!(rules(Platform::Instagram, &"i".repeat(2201), 1), ["text_too_long"]);
        ok(Platform::Instagram, &GRINNING.repeat(1100), 1);
        assert_eq!(rules(Platform::Instagram, &GRINNING.repeat(1101), 1), ["text_too_long"]);
    }

    #[test]
    fn instagram_30_hashtags() {
        let tags = |n: usize| (1..=n).map(|k| format!("#tag{k}")).collect::<Vec<_>>().join(" ");
        ok(Platform::Instagram, &tags(30), 1);
        let v = check_post(Platform::Instagram, &tags(31), 1);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rule, "too_many_hashtags");
        assert_eq!(v[0].message, "text has 31 hashtags on Instagram; the limit is 30");
        // Repeats count; glued tags count; "C#", "&#38;", "#" and "##" do not.
        assert_eq!(count_hashtags("#a #a #b#c"), 3);
        assert_eq!(count_hashtags("C# &#38; # ## #é #_x"), 2);
        assert_eq!(count_hashtags("#café,#日本"), 2);
    }

    #[test]
    fn instagram_20_mentions() {
        let mentions = |n: usize| (1..=n).map(|k| format!("@user.{k}")).collect::<Vec<_>>().join(" ");
        ok(Platform::Instagram, &mentions(20), 1);
        assert_eq!(rules(Platform::Instagram, &mentions(21), 1), ["too_many_mentions"]);
        assert_eq!(count_at_mentions("mail me at a@b.com, or @herald_app / (@x)"), 2);
        assert_eq!(count_at_mentions("@ @@a"), 0);
    }

    #[test]
    fn instagram_reports_every_broken_rule_at_once() {
        let text = format!("{} {}", "#x ".repeat(31), "w".repeat(2200));
        assert_eq!(rules(Platform::Instagram, &text, 0), ["text_too_long", "media_required", "too_many_hashtags"]);
    }

    // ----- Facebook, TikTok, Sandbox, Generic -------------------------------------------

    #[test]
    fn meta_uploads_of_a_type_or_size_the_network_refuses_are_named() {
        const MB: u64 = 1024 * 1024;
        assert_eq!(check_upload(Platform::Instagram, "image/jpeg", 8 * MB), None);
        assert_eq!(
            check_upload(Platform::Instagram, "image/png", 1000).as_deref(),
            Some("Instagram takes JPEG images only; this one is image/png")
        );
        assert!(check_upload(Platform::Instagram, "image/jpeg", 8 * MB + 1).unwrap().contains("at most 8388608 bytes"));
        assert_eq!(check_upload(Platform::Instagram, "video/mp4", 1024 * MB), None);
        assert!(check_upload(Platform::Instagram, "video/mp4", 1024 * MB + 1).is_some());
        assert!(check_upload(Platform::Instagram, "video/webm", 1000).unwrap().contains("MP4 or MOV"));
        assert_eq!(check_upload(Platform::Threads, "image/png", 1000), None);
        assert!(check_upload(Platform::Threads, "image/gif", 1000).unwrap().contains("JPEG or PNG"));
        assert_eq!(check_upload(Platform::Threads, "video/quicktime", 1000), None);
        assert_eq!(check_upload(Platform::Facebook, "image/webp", 10 * MB), None);
        assert!(check_upload(Platform::Facebook, "image/png", 10 * MB + 1).is_some());
        assert_eq!(check_upload(Platform::Facebook, "video/webm", 500 * MB), None);
    }

    #[test]
    fn facebook_63206_utf16_units_and_no_media_rule() {
        ok(Platform::Facebook, &"f".repeat(63_206), 0);
        assert_eq!(rules(Platform::Facebook, &"f".repeat(63_207), 0), ["text_too_long"]);
        ok(Platform::Facebook, "album", 50);
    }

    #[test]
    fn tiktok_needs_media_and_a_caption_of_at_most_2200_utf16_units() {
        assert_eq!(rules(Platform::Tiktok, "caption", 0), ["media_required"]);
        ok(Platform::Tiktok, &"k".repeat(2200), 1);
        assert_eq!(rules(Platform::Tiktok, &"k".repeat(2201), 1), ["text_too_long"]);
        ok(Platform::Tiktok, &GRINNING.repeat(1100), 1);
        assert_eq!(rules(Platform::Tiktok, &format!("{}k", GRINNING.repeat(1100)), 1), ["text_too_long"]);
        ok(Platform::Tiktok, "photos", 35);
        assert_eq!(rules(Platform::Tiktok, "photos", 36), ["too_many_media"]);
    }

    #[test]
    fn sandbox_allows_10000_graphemes_and_anything_else() {
        ok(Platform::Sandbox, &FAMILY.repeat(10_000), 1000);
        let v = check_post(Platform::Sandbox, &"s".repeat(10_001), 0);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].message, "text is 10001 characters on Sandbox; the limit is 10000 (graphemes)");
        ok(Platform::Sandbox, "", 1);
        assert_eq!(check_post(Platform::Sandbox, "", 0)[0].rule, "empty_post", "it rehearses a real network");
    }

    #[test]
    fn generic_has_no_limits() {
        ok(Platform::Generic, &"g".repeat(100_000), 1000);
        ok(Platform::Generic, "", 0);
        assert_eq!(text_length(Platform::Generic, FAMILY), 1);
    }

    // ----- Every platform -----------------------------------------------------------------

    #[test]
    fn every_platform_but_generic_refuses_an_empty_post_and_names_itself() {
        for p in Platform::ALL {
            let v = check_post(p, " ", 0);
            match p {
                Platform::Generic => assert!(v.is_empty()),
                _ => {
                    assert_eq!(v[0].rule, "empty_post", "{p}");
                    assert!(v[0].message.contains(display_name(p)), "{}", v[0].message);
                    assert!(v.iter().all(|x| x.platform == p));
                }
            }
        }
    }

    #[test]
    fn every_length_message_names_the_platform_the_count_and_the_limit() {
        for p in Platform::ALL {
            let Some(max) = limits(p).max_text else { continue };
            let text = "m".repeat(max + 1);
            let v = check_post(p, &text, 1);
            let long = v.iter().find(|x| x.rule == "text_too_long").unwrap_or_else(|| panic!("{p}: {v:?}"));
            assert!(long.message.contains(display_name(p)));
            assert!(long.message.contains(&format!("text is {} characters", max + 1)), "{}", long.message);
            assert!(long.message.contains(&format!("the limit is {max} (")), "{}", long.message);
            assert_eq!(long.to_string(), long.message);
            assert!(check_post(p, &"m".repeat(max), 1).iter().all(|x| x.rule != "text_too_long"), "{p}");
        }
    }

    #[test]
    fn odd_inputs_never_panic() {
        let odd = [
            "", "@", "@@", "@a@", "@a@.", "#", "http://", "https://", "https://[", "https://[::1", "http://-",
            "http://a.", "http://.com", "www.", "www..com", "a..com/x", ".com", "\u{301}", "\u{200D}", "\u{FE0F}",
            "\u{20E3}", "\u{1F1EB}", "\u{E007F}", "http://\u{1F600}.com", "http://a.b.c.d.e.f.g.h/((((", "https://a.com/)))",
            "x\u{0}y", "\u{10FFFF}", "http://999999999999999999999.1.1.1/", "http://u:p@", "http://u:p@/x",
        ];
        for text in odd {
            for p in Platform::ALL {
                let _ = text_length(p, text);
                let _ = check_post(p, text, usize::MAX);
            }
        }
        // Long labels, of one repeated or of many distinct letters, are refused quickly.
        let long_label = format!("http://{}.com", "\u{E9}".repeat(5000));
        assert_eq!(text_length(Platform::X, &long_label), 7 + 5000 + 4);
        let distinct: String = (0x4E00u32..0x4E00 + 20_000).filter_map(char::from_u32).collect();
        assert_eq!(text_length(Platform::X, &format!("http://{distinct}.com")), 7 + 40_000 + 4);
    }

    #[test]
    fn limits_table_is_consistent() {
        for p in Platform::ALL {
            let l = limits(p);
            if let Some(max) = l.max_media {
                assert!(max >= l.min_media, "{p}");
            }
        }
        assert_eq!(URL_PLACEHOLDER.chars().count(), URL_WEIGHT);
        assert_eq!(limits(Platform::Bluesky).max_text_bytes, Some(3000));
        assert_eq!(limits(Platform::X).counting, Counting::TwitterWeighted);
    }
}
