//! Queries only the bill24 dialect needs (owned by that gateway's work).
