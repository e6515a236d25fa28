//! Reads and writes of the operator console: bills (in progress). Always for one organization.
