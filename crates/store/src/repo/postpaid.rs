//! Queries only the postpaid dialect needs (owned by that gateway's work).
