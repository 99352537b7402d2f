//! The one timestamp a reproducible image carries.

/// Default timestamp for every file and for the image's `created`: 1980-01-01,
/// the earliest date zip (and so wheel tooling) can represent.
pub const DEFAULT_EPOCH: u64 = 315_532_800;

/// `SOURCE_DATE_EPOCH` when set (the reproducible-builds convention), else
/// [`DEFAULT_EPOCH`].
pub fn source_date_epoch() -> anyhow::Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(text) if !text.trim().is_empty() => text.trim().parse().map_err(|_| {
            anyhow::anyhow!("SOURCE_DATE_EPOCH='{text}' is not a number of seconds since 1970")
        }),
        _ => Ok(DEFAULT_EPOCH),
    }
}
