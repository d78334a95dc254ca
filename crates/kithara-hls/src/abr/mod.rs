//! ABR
