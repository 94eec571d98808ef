//! Integration tests: the real binary, the real sandbox on loopback, a real SQLite file.

mod helpers;
mod sandbox_cmd;
mod validate_cmd;
mod import_cmd;
mod reliability;
