//! SPDY/3 header blocks: name/value pairs (32-bit counts and lengths), compressed with zlib
//! primed by the SPDY/3 dictionary, one compression context per direction per connection.

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Header names and values of one block (names lower case; several values joined by NUL).
pub type HeaderList = Vec<(String, String)>;

/// The largest uncompressed header block accepted (kubectl's are a few hundred bytes).
pub const MAX_HEADER_BLOCK: usize = 64 * 1024;

/// Why a header block could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    /// zlib failed (wrong dictionary, corrupt data).
    #[error("header block compression: {0}")]
    Zlib(String),
    /// The uncompressed block is malformed or too large.
    #[error("malformed header block: {0}")]
    Malformed(&'static str),
}

/// The zlib dictionary of SPDY/3 (section 2.6.10.1 of the SPDY/3 draft).
pub const DICTIONARY: &[u8] = concat!(
    "\x00\x00\x00\x07options\x00\x00\x00\x04head\x00\x00\x00\x04post",
    "\x00\x00\x00\x03put\x00\x00\x00\x06delete\x00\x00\x00\x05trace",
    "\x00\x00\x00\x06accept\x00\x00\x00\x0eaccept-charset",
    "\x00\x00\x00\x0faccept-encoding\x00\x00\x00\x0faccept-language",
    "\x00\x00\x00\x0daccept-ranges\x00\x00\x00\x03age\x00\x00\x00\x05allow",
    "\x00\x00\x00\x0dauthorization\x00\x00\x00\x0dcache-control",
    "\x00\x00\x00\x0aconnection\x00\x00\x00\x0ccontent-base",
    "\x00\x00\x00\x10content-encoding\x00\x00\x00\x10content-language",
    "\x00\x00\x00\x0econtent-length\x00\x00\x00\x10content-location",
    "\x00\x00\x00\x0bcontent-md5\x00\x00\x00\x0dcontent-range",
    "\x00\x00\x00\x0ccontent-type\x00\x00\x00\x04date\x00\x00\x00\x04etag",
    "\x00\x00\x00\x06expect\x00\x00\x00\x07expires\x00\x00\x00\x04from",
    "\x00\x00\x00\x04host\x00\x00\x00\x08if-match\x00\x00\x00\x11if-modified-since",
    "\x00\x00\x00\x0dif-none-match\x00\x00\x00\x08if-range\x00\x00\x00\x13if-unmodified-since",
    "\x00\x00\x00\x0dlast-modified\x00\x00\x00\x08location\x00\x00\x00\x0cmax-forwards",
    "\x00\x00\x00\x06pragma\x00\x00\x00\x12proxy-authenticate\x00\x00\x00\x13proxy-authorization",
    "\x00\x00\x00\x05range\x00\x00\x00\x07referer\x00\x00\x00\x0bretry-after",
    "\x00\x00\x00\x06server\x00\x00\x00\x02te\x00\x00\x00\x07trailer",
    "\x00\x00\x00\x11transfer-encoding\x00\x00\x00\x07upgrade\x00\x00\x00\x0auser-agent",
    "\x00\x00\x00\x04vary\x00\x00\x00\x03via\x00\x00\x00\x07warning",
    "\x00\x00\x00\x10www-authenticate\x00\x00\x00\x06method\x00\x00\x00\x03get",
    "\x00\x00\x00\x06status\x00\x00\x00\x06200 OK\x00\x00\x00\x07version",
    "\x00\x00\x00\x08HTTP/1.1\x00\x00\x00\x03url\x00\x00\x00\x06public",
    "\x00\x00\x00\x0aset-cookie\x00\x00\x00\x0akeep-alive\x00\x00\x00\x06origin",
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505",
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized",
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable",
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT",
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,",
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0."
)
.as_bytes();

/// Encodes `headers` as an uncompressed name/value block.
pub fn encode_block(headers: &[(String, String)]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (name, value) in headers {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    out
}

/// Decodes an uncompressed name/value block.
pub fn decode_block(mut block: &[u8]) -> Result<HeaderList, HeaderError> {
    fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], HeaderError> {
        if buf.len() < n {
            return Err(HeaderError::Malformed("truncated"));
        }
        let (head, tail) = buf.split_at(n);
        *buf = tail;
        Ok(head)
    }
    fn word(buf: &mut &[u8]) -> Result<usize, HeaderError> {
        let b = take(buf, 4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }
    let count = word(&mut block)?;
    // Every pair needs at least 8 bytes: a larger count is a lie.
    if count > block.len() / 8 {
        return Err(HeaderError::Malformed("too many pairs"));
    }
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let n = word(&mut block)?;
        let name = String::from_utf8_lossy(take(&mut block, n)?).to_ascii_lowercase();
        let n = word(&mut block)?;
        let value = String::from_utf8_lossy(take(&mut block, n)?).into_owned();
        out.push((name, value));
    }
    Ok(out)
}

/// The value of `name` in `headers` (names compare case-insensitively).
pub fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The compressing side of a connection.
pub struct Deflater(Compress);

impl Default for Deflater {
    fn default() -> Self {
        Deflater::new()
    }
}

impl Deflater {
    /// A compressor primed with [`DICTIONARY`].
    pub fn new() -> Deflater {
        let mut c = Compress::new(Compression::default(), true);
        // Setting the dictionary of a fresh zlib stream cannot fail.
        let _ = c.set_dictionary(DICTIONARY);
        Deflater(c)
    }

    /// Compresses one header block (sync flush: the peer can decode it at once).
    pub fn compress(&mut self, headers: &[(String, String)]) -> Result<Vec<u8>, HeaderError> {
        let input = encode_block(headers);
        let mut out = Vec::with_capacity(input.len() + 64);
        let mut consumed = 0usize;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(256);
            }
            let before = self.0.total_in();
            self.0
                .compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
                .map_err(|e| HeaderError::Zlib(e.to_string()))?;
            consumed += (self.0.total_in() - before) as usize;
            // Done once all input is in and the flush left spare room in the output.
            if consumed >= input.len() && out.len() < out.capacity() {
                return Ok(out);
            }
        }
    }
}

/// The decompressing side of a connection.
pub struct Inflater(Decompress);

impl Default for Inflater {
    fn default() -> Self {
        Inflater::new()
    }
}

impl Inflater {
    /// A decompressor that supplies [`DICTIONARY`] when the stream asks for it.
    pub fn new() -> Inflater {
        Inflater(Decompress::new(true))
    }

    /// Decompresses and decodes one header block.
    pub fn decompress(&mut self, input: &[u8]) -> Result<HeaderList, HeaderError> {
        let mut out: Vec<u8> = Vec::with_capacity(input.len() * 4 + 64);
        let mut consumed = 0usize;
        loop {
            if out.capacity() - out.len() < 256 {
                out.reserve(1024);
            }
            let before = self.0.total_in();
            let result = self
                .0
                .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync);
            consumed += (self.0.total_in() - before) as usize;
            match result {
                Ok(Status::StreamEnd) => break,
                Ok(_) => {
                    if out.len() > MAX_HEADER_BLOCK {
                        return Err(HeaderError::Malformed("header block too large"));
                    }
                    if consumed >= input.len() && out.len() < out.capacity() {
                        break;
                    }
                }
                Err(e) if e.needs_dictionary().is_some() => {
                    self.0
                        .set_dictionary(DICTIONARY)
                        .map_err(|e| HeaderError::Zlib(e.to_string()))?;
                }
                Err(e) => return Err(HeaderError::Zlib(e.to_string())),
            }
        }
        decode_block(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> HeaderList {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn blocks_round_trip_through_one_context_per_direction() {
        let mut d = Deflater::new();
        let mut i = Inflater::new();
        let first = h(&[("streamtype", "error"), ("port", "80"), ("requestid", "0")]);
        let second = h(&[("streamtype", "data"), ("port", "80"), ("requestid", "0")]);
        let a = d.compress(&first).expect("compress");
        let b = d.compress(&second).expect("compress");
        assert_eq!(i.decompress(&a).expect("first"), first);
        assert_eq!(i.decompress(&b).expect("second"), second);
        assert_eq!(get(&second, "StreamType"), Some("data"));
        assert_eq!(
            i.decompress(&d.compress(&[]).expect("empty"))
                .expect("empty"),
            vec![]
        );
    }

    #[test]
    fn the_dictionary_is_spdy3s() {
        // A zlib stream with a preset dictionary names it by its Adler-32 (bytes 2..6, after a
        // header with FDICT set); SPDY/3's is 0xe3c6a7c2, and peers refuse any other.
        let block = Deflater::new().compress(&[]).expect("compress");
        assert_eq!(block[1] & 0x20, 0x20, "FDICT");
        assert_eq!(&block[2..6], &[0xe3, 0xc6, 0xa7, 0xc2]);
        assert_eq!(DICTIONARY.len(), 1423);
    }

    #[test]
    fn malformed_blocks_are_errors() {
        assert!(decode_block(&[0, 0, 0]).is_err());
        assert!(decode_block(&[0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(decode_block(&[0, 0, 0, 1, 0, 0, 0, 9, b'a']).is_err());
        assert!(Inflater::new().decompress(b"not zlib at all").is_err());
    }
}
