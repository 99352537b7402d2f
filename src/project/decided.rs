//! `Decided<T>`: every choice pypack makes about an app carries the rule
//! that made it (printed in the build summary and `--json`). A leaf of
//! `project`: the plan, the providers and the version choice all use it.

/// A decision and the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided<T> {
    pub value: T,
    pub rule: String,
}
