//! Integration tests: the real binary, the real sandbox on loopback, a real SQLite file.

mod help;
mod helpers;
mod import_cmd;
mod reliability;
mod sandbox_cmd;
mod validate_cmd;
