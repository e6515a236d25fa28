//! The words of the console's money pages, once per language (filled by the page that uses them).
