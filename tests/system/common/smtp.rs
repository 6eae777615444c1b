//! A local SMTP sink for tests: a few lines of tokio on its own loopback port that take every
//! message (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS, no auth) and keep it, with
//! its envelope, for the test to read; and a small MIME reader ([`Mail::parse`]) that decodes
//! what lettre writes (encoded-word subjects, base64 and quoted-printable parts, attachments).

use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One message as the sink received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_to: Vec<String>,
    /// The DATA, dot-unstuffed, CRLF line ends.
    pub data: String,
}

/// The sink: `smtp://127.0.0.1:<port>`, running until dropped.
pub struct SmtpSink {
    pub port: u16,
    received: Arc<Mutex<Vec<Received>>>,
    task: tokio::task::JoinHandle<()>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("the SMTP sink binds");
        let port = listener.local_addr().expect("its address").port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let kept = received.clone();
        let task = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let _ = session(socket, kept).await;
                });
            }
        });
        SmtpSink { port, received, task }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("the sink's list").clone()
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One SMTP conversation (RFC 5321's happy path; anything unknown gets 502).
async fn session(socket: tokio::net::TcpStream, kept: Arc<Mutex<Vec<Received>>>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read).lines();
    write.write_all(b"220 sink.test ESMTP test sink\r\n").await?;
    let (mut from, mut to) = (String::new(), Vec::new());
    while let Some(line) = lines.next_line().await? {
        let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
        let reply: &[u8] = match verb.as_str() {
            "EHLO" => b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n",
            "HELO" | "NOOP" => b"250 OK\r\n",
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                b"250 OK\r\n"
            }
            "MAIL" => {
                from = address(&line);
                b"250 OK\r\n"
            }
            "RCPT" => {
                to.push(address(&line));
                b"250 OK\r\n"
            }
            "DATA" => {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut data = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push_str("\r\n");
                }
                kept.lock().expect("the sink's list").push(Received { mail_from: from.clone(), rcpt_to: to.clone(), data });
                (from, to) = (String::new(), Vec::new());
                b"250 OK queued\r\n"
            }
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => b"502 command not implemented\r\n",
        };
        write.write_all(reply).await?;
    }
    Ok(())
}

/// `MAIL FROM:<a@b> SIZE=…` → `a@b`.
fn address(line: &str) -> String {
    line.split('<').nth(1).and_then(|r| r.split('>').next()).unwrap_or("").to_owned()
}

/// A message read back: its headers and every leaf part, decoded.
#[derive(Debug, Clone, Default)]
pub struct Mail {
    pub subject: String,
    pub to: String,
    /// (content type, decoded text) of each inline text part.
    pub texts: Vec<(String, String)>,
    /// (file name, content type, bytes) of each attachment.
    pub attachments: Vec<(String, String, Vec<u8>)>,
}

impl Mail {
    pub fn parse(raw: &str) -> Mail {
        let mut mail = Mail::default();
        let (headers, _) = split(raw);
        mail.subject = words(&header(&headers, "subject"));
        mail.to = header(&headers, "to");
        part(raw, &mut mail);
        mail
    }

    /// The text/plain part.
    pub fn text(&self) -> &str {
        self.texts.iter().find(|(t, _)| t.starts_with("text/plain")).map_or("", |(_, s)| s.as_str())
    }

    /// The text/html part.
    pub fn html(&self) -> &str {
        self.texts.iter().find(|(t, _)| t.starts_with("text/html")).map_or("", |(_, s)| s.as_str())
    }
}

/// Headers (unfolded, `name: value`) and body.
fn split(raw: &str) -> (Vec<String>, &str) {
    let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut headers: Vec<String> = Vec::new();
    for line in head.split("\r\n") {
        match (line.starts_with([' ', '\t']), headers.last_mut()) {
            (true, Some(last)) => last.push_str(line.trim_start_matches(['\t'])),
            _ => headers.push(line.to_owned()),
        }
    }
    (headers, body)
}

fn header(headers: &[String], name: &str) -> String {
    headers
        .iter()
        .find_map(|h| h.split_once(':').filter(|(n, _)| n.trim().eq_ignore_ascii_case(name)).map(|(_, v)| v.trim().to_owned()))
        .unwrap_or_default()
}

/// RFC 2047 encoded words (`=?utf-8?b?…?=`, `=?utf-8?q?…?=`) decoded; other text as is.
fn words(value: &str) -> String {
    let mut out = String::new();
    for token in value.split_whitespace() {
        let inner = token.strip_prefix("=?").and_then(|t| t.strip_suffix("?="));
        match inner.map(|i| i.splitn(3, '?').collect::<Vec<_>>()) {
            Some(p) if p.len() == 3 && p[1].eq_ignore_ascii_case("b") => {
                out.push_str(&String::from_utf8_lossy(&base64::engine::general_purpose::STANDARD.decode(p[2]).unwrap_or_default()));
            }
            Some(p) if p.len() == 3 && p[1].eq_ignore_ascii_case("q") => {
                out.push_str(&String::from_utf8_lossy(&quoted_printable(&p[2].replace('_', " "))));
            }
            _ => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(token);
            }
        }
    }
    out
}

fn quoted_printable(s: &str) -> Vec<u8> {
    let s = s.replace("=\r\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok()).and_then(|h| u8::from_str_radix(h, 16).ok());
        if bytes[i] == b'=' && let Some(b) = hex {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// Walks a MIME entity: multiparts by their boundary, leaves decoded into `mail`.
fn part(raw: &str, mail: &mut Mail) {
    let (headers, body) = split(raw);
    let kind = header(&headers, "content-type");
    if let Some(boundary) = kind.split("boundary=").nth(1).map(|b| b.split(';').next().unwrap_or("").trim_matches('"').to_owned()) {
        let marker = format!("--{boundary}");
        for chunk in body.split(&marker).skip(1) {
            if chunk.starts_with("--") {
                break;
            }
            part(chunk.trim_start_matches("\r\n"), mail);
        }
        return;
    }
    let bytes = match header(&headers, "content-transfer-encoding").to_ascii_lowercase().as_str() {
        "base64" => base64::engine::general_purpose::STANDARD.decode(body.split_whitespace().collect::<String>()).unwrap_or_default(),
        "quoted-printable" => quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    let disposition = header(&headers, "content-disposition");
    if disposition.to_ascii_lowercase().starts_with("attachment") {
        let name = disposition.split("filename=").nth(1).unwrap_or("").trim_matches('"').to_owned();
        mail.attachments.push((words(&name), kind, bytes));
    } else {
        mail.texts.push((kind, String::from_utf8_lossy(&bytes).into_owned()));
    }
}
