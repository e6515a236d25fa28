//! The JSON log format, written by hand ([`JsonLog`]).
//!
//! One object per line, byte for byte what `tracing-subscriber`'s
//! `fmt::layer().json().with_current_span(true).with_span_list(false)` writes:
//!
//! ```text
//! {"timestamp":"2026-12-05T12:59:00.123456Z","level":"INFO","fields":{"message":"request finished"},"target":"billhub_http::middleware","span":{"gateway":"bill24-proxy",...,"name":"request"}}
//! ```
//!
//! - `fields`: the event's fields in the order they were given, each value as `tracing-serde`
//!   writes it (numbers and booleans as such, `Debug`/`Display` values as strings).
//! - `target`: the event's target; for a record of the `log` crate (through `tracing-log`'s
//!   `LogTracer`) the record's own target, as the stock formatter normalizes it.
//! - `span`: the event's span (its explicit parent, else the current span), its fields sorted by
//!   name (a field recorded twice: the later value), then `name`; absent outside any span.
//!
//! What it saves over the stock formatter, per request: the stock one keeps a span's fields as
//! a JSON object in text, parses it into a map for every line and writes the map again, with a
//! dozen small allocations and a fresh timestamp string. Here a span keeps its values already
//! written as JSON in one buffer with a small sorted index ([`SpanFields`]), recorded values go
//! in place, and an event is written straight into a reusable per-thread buffer, with the date
//! part of the timestamp formatted once per second, then handed to the writer in one piece.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// The JSON format as a layer, writing each line to `writer` in one `write` call.
pub struct JsonLog<W> {
    writer: W,
}

impl<W> JsonLog<W>
where
    W: for<'w> MakeWriter<'w> + 'static,
{
    pub fn new(writer: W) -> JsonLog<W> {
        JsonLog { writer }
    }

    fn emit(&self, line: &[u8]) {
        // A failed write (the output closed) loses the line: there is nowhere to report it.
        let _ = self.writer.make_writer().write_all(line);
    }
}

/// Lines longer than this do not keep their buffer's memory for the thread's next line.
const KEEP_BUFFER: usize = 16 * 1024;

thread_local! {
    /// The line being written, reused by the thread's next event.
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
    /// The last second formatted: its Unix time and `YYYY-MM-DDTHH:MM:SS.`.
    static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
}

impl<S, W> tracing_subscriber::Layer<S> for JsonLog<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut fields = SpanFields::default();
        attrs.record(&mut SpanVisitor(&mut fields));
        span.extensions_mut().replace(fields);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else {
            return;
        };
        let mut extensions = span.extensions_mut();
        if let Some(fields) = extensions.get_mut::<SpanFields>() {
            values.record(&mut SpanVisitor(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let written = LINE.try_with(|cell| {
            // Taken already: an event logged while this thread formats one (a `Debug` impl
            // that logs); that one gets a buffer of its own.
            let Ok(mut line) = cell.try_borrow_mut() else {
                return false;
            };
            line.clear();
            write_line(&mut line, event, &ctx);
            self.emit(&line);
            if line.capacity() > KEEP_BUFFER {
                *line = Vec::with_capacity(512);
            }
            true
        });
        if written != Ok(true) {
            let mut line = Vec::with_capacity(512);
            write_line(&mut line, event, &ctx);
            self.emit(&line);
        }
    }
}

/// Writes `event`'s whole line (with its newline) to `out`.
fn write_line<S>(out: &mut Vec<u8>, event: &Event<'_>, ctx: &Context<'_, S>)
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let meta = event.metadata();
    out.extend_from_slice(b"{\"timestamp\":\"");
    write_timestamp(out, std::time::SystemTime::now());
    out.extend_from_slice(b"\",\"level\":\"");
    out.extend_from_slice(level_name(*meta.level()).as_bytes());
    out.extend_from_slice(b"\",\"fields\":{");
    let mut visitor = EventVisitor {
        out,
        first: true,
        log_target: is_log_record(meta).then_some(None),
    };
    event.record(&mut visitor);
    let log_target = visitor.log_target.take();
    out.extend_from_slice(b"},\"target\":");
    match log_target {
        Some(Some(target)) => write_str(out, &target),
        Some(None) => write_str(out, "log"),
        None => write_str(out, meta.target()),
    }
    let span = event
        .parent()
        .and_then(|id| ctx.span(id))
        .or_else(|| ctx.lookup_current());
    if let Some(span) = span {
        out.extend_from_slice(b",\"span\":{");
        if let Some(fields) = span.extensions().get::<SpanFields>() {
            for (key, start, end) in &fields.index {
                write_str(out, key);
                out.push(b':');
                out.extend_from_slice(fields.values.get(*start..*end).unwrap_or_default());
                out.push(b',');
            }
        }
        out.extend_from_slice(b"\"name\":");
        write_str(out, span.metadata().name());
        out.push(b'}');
    }
    out.extend_from_slice(b"}\n");
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::ERROR => "ERROR",
        Level::WARN => "WARN",
        Level::INFO => "INFO",
        Level::DEBUG => "DEBUG",
        Level::TRACE => "TRACE",
    }
}

/// Whether `meta` is the callsite `tracing-log` gives the `log` crate's records (its fields:
/// `message`, `log.target`, `log.module_path`, `log.file`, `log.line`).
fn is_log_record(meta: &tracing::Metadata<'_>) -> bool {
    meta.target() == "log"
        && meta.name() == "log event"
        && meta.fields().field("log.target").is_some()
}

/// `time` as `tracing-subscriber`'s `SystemTime` timer writes it (RFC 3339, UTC, microseconds:
/// `2026-12-05T12:59:00.123456Z`), the part up to the second formatted once per second.
fn write_timestamp(out: &mut Vec<u8>, time: std::time::SystemTime) {
    let (secs, nanos) = match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    };
    let cached = SECOND.try_with(|cell| {
        let Ok(mut second) = cell.try_borrow_mut() else {
            return false;
        };
        if second.0 != secs {
            second.1.clear();
            write_second(&mut second.1, secs);
            second.0 = secs;
        }
        out.extend_from_slice(second.1.as_bytes());
        true
    });
    if cached != Ok(true) {
        let mut second = String::new();
        write_second(&mut second, secs);
        out.extend_from_slice(second.as_bytes());
    }
    let micros = nanos / 1_000;
    let mut digits = [b'0'; 6];
    let mut rest = micros;
    for d in digits.iter_mut().rev() {
        // `rest % 10` is a single digit.
        *d = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        rest /= 10;
    }
    out.extend_from_slice(&digits);
    out.push(b'Z');
}

/// `YYYY-MM-DDTHH:MM:SS.` of the Unix second `secs` (years past 9999 as `+YYYYY`, before year 0
/// as `-YYYY`, as `tracing-subscriber` writes them).
fn write_second(out: &mut String, secs: i64) {
    let days = secs.div_euclid(86_400);
    let in_day = secs.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if year > 9999 {
        let _ = write!(out, "+{year}");
    } else if year < 0 {
        let _ = write!(out, "{year:05}");
    } else {
        let _ = write!(out, "{year:04}");
    }
    let _ = write!(
        out,
        "-{month:02}-{day:02}T{:02}:{:02}:{:02}.",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    );
}

/// The proleptic Gregorian date of day `days` after 1970-01-01 (Howard Hinnant's
/// `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097); // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11]
    let day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
    let month = if mp < 10 { mp + 3 } else { mp - 9 }; // [1, 12]
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// A span's fields as JSON: each value already written in `values`, `index` sorted by name
/// (one entry per name; a value recorded again replaces the entry's range).
#[derive(Default)]
pub(crate) struct SpanFields {
    values: Vec<u8>,
    index: Vec<(&'static str, usize, usize)>,
}

impl SpanFields {
    /// Starts a value for `name`: its JSON goes into `values` until [`SpanFields::end`].
    fn begin(&mut self) -> usize {
        if self.values.capacity() == 0 {
            self.values.reserve(128);
            self.index.reserve(8);
        }
        self.values.len()
    }

    fn end(&mut self, name: &'static str, start: usize) {
        let end = self.values.len();
        match self.index.binary_search_by(|(k, _, _)| (*k).cmp(name)) {
            Ok(i) => {
                if let Some(entry) = self.index.get_mut(i) {
                    *entry = (name, start, end);
                }
            }
            Err(i) => self.index.insert(i, (name, start, end)),
        }
    }
}

/// Records span fields as `tracing-subscriber`'s `JsonVisitor` does (the values it turns into
/// `serde_json` values, written as `serde_json` writes them).
struct SpanVisitor<'a>(&'a mut SpanFields);

impl Visit for SpanVisitor<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let start = self.0.begin();
        write_f64(&mut self.0.values, value);
        self.0.end(field.name(), start);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        let start = self.0.begin();
        write_i64(&mut self.0.values, value);
        self.0.end(field.name(), start);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        let start = self.0.begin();
        write_u64(&mut self.0.values, value);
        self.0.end(field.name(), start);
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        let start = self.0.begin();
        self.0
            .values
            .extend_from_slice(if value { b"true" } else { b"false" });
        self.0.end(field.name(), start);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let start = self.0.begin();
        write_str(&mut self.0.values, value);
        self.0.end(field.name(), start);
    }

    fn record_bytes(&mut self, field: &Field, value: &[u8]) {
        let start = self.0.begin();
        self.0.values.push(b'[');
        for (i, b) in value.iter().enumerate() {
            if i > 0 {
                self.0.values.push(b',');
            }
            write_u64(&mut self.0.values, u64::from(*b));
        }
        self.0.values.push(b']');
        self.0.end(field.name(), start);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let name = field.name();
        // `tracing-log`'s metadata fields are skipped, raw identifiers lose their `r#`.
        if name.starts_with("log.") {
            return;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        let start = self.0.begin();
        write_debug(&mut self.0.values, value);
        self.0.end(name, start);
    }
}

/// Writes an event's fields into its line as `tracing-serde`'s map visitor does.
struct EventVisitor<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
    /// For a `log` record (`Some`): its `log.target` once recorded, for the line's `target`.
    log_target: Option<Option<String>>,
}

impl EventVisitor<'_> {
    fn key(&mut self, field: &Field) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_str(self.out, field.name());
        self.out.push(b':');
    }
}

impl Visit for EventVisitor<'_> {
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.out
            .extend_from_slice(if value { b"true" } else { b"false" });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        write_debug(self.out, value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        write_u64(self.out, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        write_i64(self.out, value);
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        write_f64(self.out, value);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if let Some(target) = &mut self.log_target
            && field.name() == "log.target"
        {
            *target = Some(value.to_string());
        }
        self.key(field);
        write_str(self.out, value);
    }
}

/// An integer in decimal.
fn write_u64(out: &mut Vec<u8>, value: u64) {
    let mut digits = [0_u8; 20];
    let mut at = digits.len();
    let mut rest = value;
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            // `rest % 10` is a single digit.
            *d = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        }
        rest /= 10;
        if rest == 0 || at == 0 {
            break;
        }
    }
    out.extend_from_slice(digits.get(at..).unwrap_or_default());
}

fn write_i64(out: &mut Vec<u8>, value: i64) {
    if value < 0 {
        out.push(b'-');
    }
    write_u64(out, value.unsigned_abs());
}

/// A float as `serde_json` writes it (`null` when not finite).
fn write_f64(out: &mut Vec<u8>, value: f64) {
    if serde_json::to_writer(&mut *out, &value).is_err() {
        out.extend_from_slice(b"null");
    }
}

/// A `Debug` value as a JSON string (`format!("{value:?}")`, escaped).
fn write_debug(out: &mut Vec<u8>, value: &dyn std::fmt::Debug) {
    out.push(b'"');
    let _ = write!(Escaping(out), "{value:?}");
    out.push(b'"');
}

/// `s` as a JSON string, escaped as `serde_json` escapes it.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    escape_into(out, s);
    out.push(b'"');
}

/// Writes what is formatted into it escaped for a JSON string.
struct Escaping<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

/// `s` escaped as `serde_json` does: `"` and `\`, the control characters below U+0020 (`\b \t
/// \n \f \r` by name, the others as `\u00xx`); everything else (DEL, non-ASCII) as is.
fn escape_into(out: &mut Vec<u8>, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let named: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        start = i + 1;
        if named.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.push(HEX.get(usize::from(b >> 4)).copied().unwrap_or(b'0'));
            out.push(HEX.get(usize::from(b & 0xf)).copied().unwrap_or(b'0'));
        } else {
            out.extend_from_slice(named);
        }
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing)]
    use super::*;

    fn escaped(s: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_serde_json_escapes_them() {
        assert_eq!(escaped("plain"), "\"plain\"");
        assert_eq!(escaped("a \"q\" \\ b"), r#""a \"q\" \\ b""#);
        assert_eq!(
            escaped("\n\r\t\u{8}\u{c}\u{0}\u{1f}\u{7f}"),
            "\"\\n\\r\\t\\b\\f\\u0000\\u001f\u{7f}\""
        );
        assert_eq!(escaped("ចំនួន Rp 100.000 ü 😀"), "\"ចំនួន Rp 100.000 ü 😀\"");
        // Every character below U+0100, and some beyond, as serde_json writes them.
        let mut all: String = (0_u32..0x100).filter_map(char::from_u32).collect();
        all.push_str("\u{2028}\u{2029}\u{fffd}\u{10ffff}end");
        assert_eq!(escaped(&all), serde_json::to_string(&all).unwrap());
        for c in (0_u32..0x100).filter_map(char::from_u32) {
            let s = format!("x{c}y");
            assert_eq!(escaped(&s), serde_json::to_string(&s).unwrap(), "{c:?}");
        }
    }

    /// What `scenario` logs through [`JsonLog`], the timestamps cut off.
    fn lines(scenario: impl FnOnce()) -> Vec<String> {
        use tracing_subscriber::layer::SubscriberExt;
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = out.clone();
        let writer = move || Collect(sink.clone());
        let subscriber = tracing_subscriber::registry().with(JsonLog::new(writer));
        tracing::subscriber::with_default(subscriber, scenario);
        let text = String::from_utf8(out.lock().unwrap().clone()).unwrap();
        text.lines()
            .map(|l| {
                let (head, rest) = l.split_at(14);
                assert_eq!(head, "{\"timestamp\":\"");
                rest.get(28..).unwrap().to_string()
            })
            .collect()
    }

    struct Collect(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Collect {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_log_record_takes_its_own_target() {
        // The shape of `tracing-log`'s callsite for records of the `log` crate (that crate is
        // no dependency here): the stock formatter shows the record's target, and all fields.
        let lines = lines(|| {
            tracing::event!(
                name: "log event",
                target: "log",
                Level::WARN,
                message = "pool timed out",
                log.target = "r2d2",
                log.module_path = "r2d2::pool",
                log.file = "src/pool.rs",
                log.line = 42_u64,
            );
            tracing::event!(name: "log event", target: "log", Level::INFO, message = "x", log.target = "");
            tracing::event!(name: "not a log event", target: "log", Level::INFO, log.target = "t");
        });
        assert_eq!(
            lines,
            [
                r#","level":"WARN","fields":{"message":"pool timed out","log.target":"r2d2","log.module_path":"r2d2::pool","log.file":"src/pool.rs","log.line":42},"target":"r2d2"}"#,
                r#","level":"INFO","fields":{"message":"x","log.target":""},"target":""}"#,
                r#","level":"INFO","fields":{"log.target":"t"},"target":"log"}"#,
            ]
        );
    }

    #[test]
    fn integers_are_written_in_decimal() {
        for v in [
            0,
            1,
            9,
            10,
            99,
            100,
            12_345,
            u64::from(u32::MAX),
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut out = Vec::new();
            write_u64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
        for v in [0, -1, 7, -10, i64::MIN, i64::MIN + 1, i64::MAX] {
            let mut out = Vec::new();
            write_i64(&mut out, v);
            assert_eq!(String::from_utf8(out).unwrap(), v.to_string());
        }
    }

    fn second(secs: i64) -> String {
        let mut s = String::new();
        write_second(&mut s, secs);
        s
    }

    #[test]
    fn timestamps_are_rfc3339_with_microseconds() {
        assert_eq!(second(0), "1970-01-01T00:00:00.");
        assert_eq!(second(1_796_479_140), "2026-12-05T13:59:00.");
        assert_eq!(second(951_782_400), "2000-02-29T00:00:00.");
        assert_eq!(second(-1), "1969-12-31T23:59:59.");
        assert_eq!(second(253_402_300_799), "9999-12-31T23:59:59.");
        assert_eq!(second(253_402_300_800), "+10000-01-01T00:00:00.");
        assert_eq!(second(-62_167_219_201), "-0001-12-31T23:59:59.");
        let at = std::time::UNIX_EPOCH + std::time::Duration::new(1_796_479_140, 1_234_999);
        let mut out = Vec::new();
        write_timestamp(&mut out, at);
        write_timestamp(&mut out, at + std::time::Duration::from_secs(61));
        write_timestamp(
            &mut out,
            std::time::UNIX_EPOCH - std::time::Duration::new(0, 1_000),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "2026-12-05T13:59:00.001234Z2026-12-05T14:00:01.001234Z1969-12-31T23:59:59.999999Z"
        );
    }

    #[test]
    fn dates_agree_with_the_time_crate_over_centuries() {
        let mut days = -719_000_i64;
        while days < 2_900_000 {
            let secs = days * 86_400 + 3_723;
            let t = time::OffsetDateTime::from_unix_timestamp(secs).unwrap();
            let expected = format!(
                "{:04}-{:02}-{:02}T01:02:03.",
                t.year(),
                u8::from(t.month()),
                t.day()
            );
            assert_eq!(second(secs), expected, "day {days}");
            days += 997;
        }
    }
}
