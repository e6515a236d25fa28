//! Queries only the collections dialect needs (owned by that gateway's work).
