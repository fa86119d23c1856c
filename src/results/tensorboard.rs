//! TensorBoard scalars, written in the event-file format itself: a TFRecord
//! stream (length, masked CRC-32C of the length, an `Event` protocol
//! buffer, masked CRC-32C of the data) in
//! `<run>/tensorboard/events.out.tfevents.<time>.<host>`, one file per
//! training attempt. [`read_scalars`] reads such files back.
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

pub struct EventWriter {
    file: BufWriter<File>,
    path: PathBuf,
}

impl EventWriter {
    /// Opens a new event file in `dir`, starting with the file-version event.
    pub fn create(dir: &Path) -> Result<EventWriter> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create `{}`", dir.display()))?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let host = crate::runtime::provenance::host_name();
        let path = dir.join(format!(
            "events.out.tfevents.{}.{host}.{}",
            now.as_secs(),
            std::process::id()
        ));
        let file =
            File::create(&path).with_context(|| format!("cannot write `{}`", path.display()))?;
        let mut w = EventWriter {
            file: BufWriter::new(file),
            path,
        };
        let mut event = Vec::new();
        put_f64(&mut event, 1, wall_time());
        put_bytes(&mut event, 3, b"brain.Event:2");
        w.record(&event)?;
        Ok(w)
    }

    /// Writes scalars `(tag, value)` at `step` and flushes them to disk.
    pub fn scalars(&mut self, step: i64, values: &[(&str, f64)]) -> Result<()> {
        let mut summary = Vec::new();
        for (tag, v) in values {
            let mut value = Vec::new();
            put_bytes(&mut value, 1, tag.as_bytes());
            put_f32(&mut value, 2, *v as f32);
            put_bytes(&mut summary, 1, &value);
        }
        let mut event = Vec::new();
        put_f64(&mut event, 1, wall_time());
        put_varint_field(&mut event, 2, step as u64);
        put_bytes(&mut event, 5, &summary);
        self.record(&event)?;
        self.file
            .flush()
            .with_context(|| format!("cannot write `{}`", self.path.display()))
    }

    fn record(&mut self, data: &[u8]) -> Result<()> {
        let len = (data.len() as u64).to_le_bytes();
        let mut buf = Vec::with_capacity(data.len() + 16);
        buf.extend_from_slice(&len);
        buf.extend_from_slice(&masked_crc(&len).to_le_bytes());
        buf.extend_from_slice(data);
        buf.extend_from_slice(&masked_crc(data).to_le_bytes());
        self.file
            .write_all(&buf)
            .with_context(|| format!("cannot write `{}`", self.path.display()))
    }
}

fn wall_time() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// One scalar read back from an event file.
#[derive(Clone, Debug, PartialEq)]
pub struct Scalar {
    pub tag: String,
    pub step: i64,
    pub value: f32,
}

/// Every scalar of an event file, checking both CRCs of every record.
pub fn read_scalars(path: &Path) -> Result<Vec<Scalar>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let bad = || {
            format!(
                "`{}`: a truncated or corrupt record at byte {at}",
                path.display()
            )
        };
        let head = bytes.get(at..at + 12).with_context(bad)?;
        let len = u64::from_le_bytes(head[..8].try_into().expect("8 bytes")) as usize;
        if masked_crc(&head[..8]) != u32::from_le_bytes(head[8..12].try_into().expect("4 bytes")) {
            bail!("{}: the length's CRC does not match", bad());
        }
        let data = bytes.get(at + 12..at + 12 + len).with_context(bad)?;
        let crc = bytes.get(at + 12 + len..at + 16 + len).with_context(bad)?;
        if masked_crc(data) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            bail!("{}: the data's CRC does not match", bad());
        }
        let mut step = 0;
        let mut values = Vec::new();
        for (field, v) in fields(data).with_context(bad)? {
            match (field, v) {
                (2, Field::Varint(s)) => step = s as i64,
                (5, Field::Bytes(summary)) => {
                    for (_, value) in fields(summary).with_context(bad)? {
                        if let Field::Bytes(value) = value {
                            values.push(scalar(value).with_context(bad)?);
                        }
                    }
                }
                _ => {}
            }
        }
        out.extend(
            values
                .into_iter()
                .map(|(tag, value)| Scalar { tag, step, value }),
        );
        at += 16 + len;
    }
    Ok(out)
}

fn scalar(value: &[u8]) -> Result<(String, f32)> {
    let (mut tag, mut v) = (String::new(), f32::NAN);
    for (field, f) in fields(value)? {
        match (field, f) {
            (1, Field::Bytes(b)) => tag = String::from_utf8_lossy(b).into_owned(),
            (2, Field::Fixed32(x)) => v = f32::from_bits(x),
            _ => {}
        }
    }
    Ok((tag, v))
}

// --- protocol buffers, the few wire types needed ---------------------------

enum Field<'a> {
    Varint(u64),
    /// Skipped (a double such as `wall_time`).
    Fixed64,
    Fixed32(u32),
    Bytes(&'a [u8]),
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}
fn put_varint_field(buf: &mut Vec<u8>, field: u64, v: u64) {
    put_varint(buf, field << 3);
    put_varint(buf, v);
}
fn put_f64(buf: &mut Vec<u8>, field: u64, v: f64) {
    put_varint(buf, (field << 3) | 1);
    buf.extend_from_slice(&v.to_le_bytes());
}
fn put_f32(buf: &mut Vec<u8>, field: u64, v: f32) {
    put_varint(buf, (field << 3) | 5);
    buf.extend_from_slice(&v.to_le_bytes());
}
fn put_bytes(buf: &mut Vec<u8>, field: u64, v: &[u8]) {
    put_varint(buf, (field << 3) | 2);
    put_varint(buf, v.len() as u64);
    buf.extend_from_slice(v);
}

fn get_varint(data: &[u8], at: &mut usize) -> Result<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*at).context("a truncated varint")?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    bail!("a varint longer than 10 bytes")
}

fn fields(data: &[u8]) -> Result<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    let mut at = 0;
    let take = |at: &mut usize, n: usize| -> Result<&[u8]> {
        let s = data.get(*at..*at + n).context("a truncated field")?;
        *at += n;
        Ok(s)
    };
    while at < data.len() {
        let key = get_varint(data, &mut at)?;
        let f = match key & 7 {
            0 => Field::Varint(get_varint(data, &mut at)?),
            1 => {
                take(&mut at, 8)?;
                Field::Fixed64
            }
            5 => Field::Fixed32(u32::from_le_bytes(take(&mut at, 4)?.try_into()?)),
            2 => {
                let n = get_varint(data, &mut at)? as usize;
                Field::Bytes(take(&mut at, n)?)
            }
            w => bail!("unsupported wire type {w}"),
        };
        out.push((key >> 3, f));
    }
    Ok(out)
}

// --- CRC-32C (Castagnoli), masked as TFRecord wants ------------------------

fn crc32c(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0x82F6_3B78 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut crc = !0u32;
    for &b in data {
        crc = TABLE[((crc ^ b as u32) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c(data);
    (c.rotate_right(15)).wrapping_add(0xa282_ead8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn scalars_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = EventWriter::create(dir.path()).unwrap();
        w.scalars(1, &[("nll/train", 2.5), ("nll/val", 3.0)])
            .unwrap();
        w.scalars(2, &[("nll/train", 2.0)]).unwrap();
        let path = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let s = read_scalars(&path).unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(
            s[1],
            Scalar {
                tag: "nll/val".into(),
                step: 1,
                value: 3.0
            }
        );
        assert_eq!((s[2].step, s[2].value), (2, 2.0));
        let mut bytes = std::fs::read(&path).unwrap();
        let n = bytes.len();
        bytes[n - 6] ^= 1;
        std::fs::write(&path, bytes).unwrap();
        assert!(read_scalars(&path).unwrap_err().to_string().contains("CRC"));
    }
}
