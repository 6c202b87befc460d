//! inspect placeholder
