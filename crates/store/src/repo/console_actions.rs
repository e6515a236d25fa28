//! Reads and writes of the operator console: actions (in progress). Always for one organization.
