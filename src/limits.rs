//! Limits on what an archive may unpack to, shared by the readers of
//! wheels, sdists and `.deb`s: a bomb is refused before it costs memory.

use std::io::Read;

/// The most an archive (or member) of `compressed` bytes may unpack to:
/// real packages stay far under 64 times their size (text compresses
/// about 5 times), a bomb of zeros goes a thousand times; small archives
/// get 256 MB whatever their size.
pub fn unpack_limit(compressed: u64) -> u64 {
    compressed.saturating_mul(UNPACK_RATIO).max(UNPACK_FLOOR)
}

const UNPACK_RATIO: u64 = 64;
const UNPACK_FLOOR: u64 = 256 << 20;

/// The content of an archive member that declares `declared` bytes, or
/// `None` when that or what it holds passes `limit`: refused unread when it
/// declares more, and one byte past `limit` when it holds more.
pub fn read_within(
    member: impl Read,
    declared: u64,
    limit: u64,
) -> std::io::Result<Option<Vec<u8>>> {
    if declared > limit {
        return Ok(None);
    }
    let mut data = Vec::with_capacity(declared as usize);
    member.take(limit + 1).read_to_end(&mut data)?;
    Ok((data.len() as u64 <= limit).then_some(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_archives_get_the_floor_large_ones_the_ratio() {
        assert_eq!(unpack_limit(1000), 256 << 20);
        assert_eq!(unpack_limit(10 << 20), 640 << 20);
        assert_eq!(unpack_limit(u64::MAX), u64::MAX);
    }

    #[test]
    fn a_member_passing_its_limit_is_none() {
        let data = [7u8; 10];
        assert_eq!(read_within(&data[..], 10, 10).unwrap(), Some(data.to_vec()));
        // Declared over the limit: not read at all.
        assert_eq!(read_within(&data[..], 11, 10).unwrap(), None);
        // Declared under it, holding more.
        assert_eq!(read_within(&data[..], 5, 9).unwrap(), None);
    }
}
