//! Reliability and security: chaos, fault storms, hostile input, secrets, races.
