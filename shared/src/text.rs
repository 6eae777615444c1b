//! Plain text out of platform markup, for both directions: the Mastodon client (finding a
//! published status by its text, the text of polled notifications) and webhook intake (the text
//! of a status a Mastodon webhook reports). Kept apart so that intake needs no platform client.

/// The text a reader sees in Mastodon's HTML `content`: tags removed (a `<br>` and paragraph
/// boundaries become line breaks), entities decoded. Link parts hidden with
/// `<span class="invisible">` are kept: together they are the full URL that was posted.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(c) = rest.chars().next() {
        match c {
            '<' => {
                let Some(end) = rest.find('>') else {
                    out.push_str(rest);
                    break;
                };
                let tag = rest.get(1..end).unwrap_or("").trim().to_ascii_lowercase();
                let name: String =
                    tag.trim_start_matches('/').chars().take_while(char::is_ascii_alphanumeric).collect();
                if name == "br" || name == "p" {
                    out.push('\n');
                }
                rest = rest.get(end + 1..).unwrap_or("");
            }
            '&' => {
                let entity_end = rest.get(..12.min(rest.len())).and_then(|head| head.find(';'));
                match entity_end.and_then(|e| rest.get(1..e).and_then(decode_entity).map(|ch| (e, ch))) {
                    Some((e, ch)) => {
                        out.push(ch);
                        rest = rest.get(e + 1..).unwrap_or("");
                    }
                    None => {
                        out.push('&');
                        rest = rest.get(1..).unwrap_or("");
                    }
                }
            }
            _ => {
                out.push(c);
                rest = rest.get(c.len_utf8()..).unwrap_or("");
            }
        }
    }
    out
}

fn decode_entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "nbsp" => Some('\u{A0}'),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix('x').or_else(|| num.strip_prefix('X')) {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse::<u32>().ok()?,
            };
            char::from_u32(code)
        }
    }
}

/// The start of `text` on one line (runs of whitespace become one space), at most `max` whole
/// graphemes, with `…` when cut: what a calendar chip or an inbox row shows of a text.
pub fn excerpt(text: &str, max: usize) -> String {
    use unicode_segmentation::UnicodeSegmentation;
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut graphemes = one_line.graphemes(true);
    let mut out: String = graphemes.by_ref().take(max).collect();
    if graphemes.next().is_some() {
        out.push('…');
    }
    out
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A status's `content` as Mastodon renders it: a link, a mention, a hashtag, entities.
    pub(crate) const STATUS_HTML: &str = concat!(
        "<p>Caf&#233; ouvert ✨ <a href=\"https://example.com/menu/today\" rel=\"nofollow noopener\" target=\"_blank\">",
        "<span class=\"invisible\">https://</span><span class=\"ellipsis\">example.com/menu/to</span>",
        "<span class=\"invisible\">day</span></a></p><p>merci <span class=\"h-card\" translate=\"no\">",
        "<a href=\"https://social.example/@bob\" class=\"u-url mention\">@<span>bob</span></a></span> ",
        "<a href=\"https://mastodon.social/tags/caf%C3%A9\" class=\"mention hashtag\" rel=\"tag\">#<span>café</span></a>",
        "<br />a &lt;b&gt; &amp; &quot;c&quot; &#x27;d&#39;</p>"
    );

    #[test]
    fn html_content_becomes_the_posted_text() {
        let text = html_to_text(STATUS_HTML);
        assert_eq!(text, "\nCafé ouvert ✨ https://example.com/menu/today\n\nmerci @bob #café\na <b> & \"c\" 'd'\n");
    }

    #[test]
    fn html_to_text_survives_broken_markup() {
        for odd in
            ["<", "<p", "&", "&;", "&#;", "&#xZZ;", "&#99999999;", "a < b", "&amp", "é<br", "&verylongentityname;"]
        {
            let _ = html_to_text(odd);
        }
        assert_eq!(html_to_text("a < b"), "a < b");
        assert_eq!(html_to_text("AT&T &unknown; x"), "AT&T &unknown; x");
    }
}
