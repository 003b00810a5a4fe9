//! A record batch: the records one write appended to one partition, kept as one entry, as Kafka
//! keeps a producer's batch. Offsets still belong to records: a batch holds consecutive ones from
//! its entry's base offset on, and a consumer may start or stop inside it.
//!
//! Why batches: a group's records for one partition are then read back with one `pread` and
//! one checksum, and indexed in memory as one place whatever their number.
//!
//! The layout is a version byte, then per record its key and payload, each a little-endian
//! `u32` length and the bytes. It is written by hand: two length prefixes do not justify a
//! serialisation crate, and the reader checks every length against the bytes it has.

/// The layout's version, first in every batch, so a later layout can tell the two apart.
const LAYOUT: u8 = 1;

/// Adds a record to `batch`, which starts empty.
pub(super) fn push(batch: &mut Vec<u8>, key: &str, payload: &[u8]) {
    if batch.is_empty() {
        batch.push(LAYOUT);
    }
    for part in [key.as_bytes(), payload] {
        let len = u32::try_from(part.len()).expect("records are limited far below 4 GiB");
        batch.extend_from_slice(&len.to_le_bytes());
        batch.extend_from_slice(part);
    }
}

/// A batch of `records` in order.
pub(super) fn encode<'a>(records: impl IntoIterator<Item = (&'a str, &'a [u8])>) -> Vec<u8> {
    let mut batch = Vec::new();
    for (key, payload) in records {
        push(&mut batch, key, payload);
    }
    batch
}

/// A stored batch that cannot be read: the file was damaged, or written by a later version.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct Unreadable(String);

/// The records of `batch`, in order, as (key, payload).
pub(super) fn decode(batch: &[u8]) -> Result<Vec<(&str, &[u8])>, Unreadable> {
    let Some((&layout, mut rest)) = batch.split_first() else {
        return Ok(Vec::new());
    };
    if layout != LAYOUT {
        return Err(Unreadable(format!(
            "a record batch has layout {layout}, not {LAYOUT}"
        )));
    }
    let mut records = Vec::new();
    while !rest.is_empty() {
        let (key, after_key) = take(rest)?;
        let (payload, after_payload) = take(after_key)?;
        let key = std::str::from_utf8(key)
            .map_err(|e| Unreadable(format!("a record key is not UTF-8: {e}")))?;
        records.push((key, payload));
        rest = after_payload;
    }
    Ok(records)
}

/// One length-prefixed part and what follows it.
fn take(bytes: &[u8]) -> Result<(&[u8], &[u8]), Unreadable> {
    let truncated = || {
        Unreadable(format!(
            "a record batch is cut short ({} bytes left)",
            bytes.len()
        ))
    };
    let (len, rest) = bytes.split_first_chunk::<4>().ok_or_else(truncated)?;
    let len = u32::from_le_bytes(*len) as usize;
    if rest.len() < len {
        return Err(truncated());
    }
    Ok(rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_gives_back_its_records_in_order() {
        let records = [
            ("user-1", b"{}".as_slice()),
            ("", b""),
            ("ключ", b"\x00\xff"),
        ];
        let batch = encode(records);
        assert_eq!(decode(&batch).unwrap(), records);
    }

    #[test]
    fn an_empty_batch_has_no_records() {
        assert!(decode(&encode([])).unwrap().is_empty());
    }

    #[test]
    fn a_record_cut_short_is_an_error_not_a_panic() {
        let batch = encode([("key", b"payload".as_slice())]);
        // Past the layout byte, every cut falls inside the record.
        for end in 2..batch.len() {
            assert!(decode(&batch[..end]).is_err(), "cut at {end}");
        }
    }

    #[test]
    fn a_batch_of_another_layout_is_refused() {
        let mut batch = encode([("key", b"payload".as_slice())]);
        batch[0] = 9;
        assert!(decode(&batch).unwrap_err().0.contains("layout 9"));
    }
}
