//! Reads and writes of the operator console: payments (in progress). Always for one organization.
