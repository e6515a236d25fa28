//! A merchant's notification receiver on 127.0.0.1:0 for the notification suite: plain
//! `std::net` threads (no runtime, so it serves sync and async tests alike), answering every
//! request with the status and body currently set (500 "down" at first) and recording what
//! came: when, the path, `X-Billhub-Event-Id`, the content type, the body and what it answered.
//! Each answer closes its connection (`Connection: close`). Stopped on drop.
//!
//! [`Receiver::refuse_first`] answers per event id instead: 500 to the first `n` requests of
//! each `X-Billhub-Event-Id`, then the given answer, so "down for n attempts" holds for every
//! event whatever the timing (a gateway process killed and restarted in between).

#![allow(dead_code)] // each suite uses part of it

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub path: String,
    /// `X-Billhub-Event-Id`, the event's stable id.
    pub event_id: String,
    /// Every header, names lowercased.
    pub headers: Vec<(String, String)>,
    pub content_type: String,
    pub body: Vec<u8>,
    /// The status it was answered with.
    pub answered: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

#[derive(Debug)]
struct Shared {
    answer: Mutex<(u16, String)>,
    /// `refuse_first`: (n, then this answer).
    per_event: Mutex<Option<(usize, u16, String)>>,
    got: Mutex<Vec<Received>>,
    stop: AtomicBool,
}

pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
}

impl Receiver {
    /// Starts answering `500 Internal Server Error` (a receiver that is down).
    pub fn start() -> Receiver {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind the receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let shared = Arc::new(Shared {
            answer: Mutex::new((500, "down".into())),
            per_event: Mutex::new(None),
            got: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let s = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if s.stop.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(stream) = stream {
                    let s = s.clone();
                    std::thread::spawn(move || serve(stream, &s));
                }
            }
        });
        Receiver { port, shared }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// From now on, answer `status` with `body`.
    pub fn answer(&self, status: u16, body: &str) {
        *self.shared.answer.lock().expect("receiver lock") = (status, body.to_string());
    }

    /// From now on, answer 500 to the first `n` requests of each event id (counting those
    /// already received), and `status` with `body` to every later one.
    pub fn refuse_first(&self, n: usize, status: u16, body: &str) {
        *self.shared.per_event.lock().expect("receiver lock") = Some((n, status, body.to_string()));
    }

    /// Everything received so far, in arrival order.
    pub fn received(&self) -> Vec<Received> {
        self.shared.got.lock().expect("receiver lock").clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_string();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
    }
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let length: usize = find("content-length").parse().unwrap_or(0);
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let event_id = find("x-billhub-event-id");
    let per_event = shared.per_event.lock().expect("receiver lock").clone();
    let mut got = shared.got.lock().expect("receiver lock");
    let (status, answer) = match per_event {
        Some((n, status, body)) => {
            let before = got.iter().filter(|r| r.event_id == event_id).count();
            if before < n {
                (500, "down".to_string())
            } else {
                (status, body)
            }
        }
        None => shared.answer.lock().expect("receiver lock").clone(),
    };
    got.push(Received {
        at: Instant::now(),
        path,
        event_id,
        content_type: find("content-type"),
        headers: headers.clone(),
        body,
        answered: status,
    });
    drop(got);
    let reason = if status < 300 { "OK" } else { "Error" };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
        answer.len()
    );
    let _ = stream.flush();
}
