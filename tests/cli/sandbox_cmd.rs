//! `p100-onboard sandbox` through the real binary.
