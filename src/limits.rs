//! Limits on what an archive may unpack to, shared by the readers of
//! wheels, sdists and `.deb`s: a bomb is refused before it costs memory.

/// The most an archive (or member) of `compressed` bytes may unpack to:
/// real packages stay far under 64 times their size (text compresses
/// about 5 times), a bomb of zeros goes a thousand times; small archives
/// get 256 MB whatever their size.
pub fn unpack_limit(compressed: u64) -> u64 {
    compressed.saturating_mul(UNPACK_RATIO).max(UNPACK_FLOOR)
}

const UNPACK_RATIO: u64 = 64;
const UNPACK_FLOOR: u64 = 256 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_archives_get_the_floor_large_ones_the_ratio() {
        assert_eq!(unpack_limit(1000), 256 << 20);
        assert_eq!(unpack_limit(10 << 20), 640 << 20);
        assert_eq!(unpack_limit(u64::MAX), u64::MAX);
    }
}
