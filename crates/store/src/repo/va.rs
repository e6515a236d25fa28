//! Queries only the va dialect needs (owned by that gateway's work).
