//! Case-insensitive substring search, written once for both backends: `lower(column) LIKE
//! '%text%' ESCAPE '\'` with the text's own `%`, `_` and `\` escaped.

diesel::define_sql_function! {
    /// SQL `lower(text)` (both backends).
    fn lower(x: diesel::sql_types::Text) -> diesel::sql_types::Text;
}

/// `%text%` for `LIKE ... ESCAPE '\'`, lower-cased.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}
