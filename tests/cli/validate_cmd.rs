//! `p100-onboard validate` and `sample` through the real binary.
