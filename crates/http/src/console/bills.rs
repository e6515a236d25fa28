//! Console pages: bills (in progress).

use actix_web::web;

/// Registers this module's routes inside the `/console` scope.
pub fn routes(_cfg: &mut web::ServiceConfig) {}
