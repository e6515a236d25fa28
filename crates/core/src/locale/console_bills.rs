//! The words of the console's bills pages, once per language (filled by the page that uses them).
