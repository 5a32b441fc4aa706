//! What the base64 of an OpenSSH public key holds, checked against the type it is written
//! with: a key of the right shape, not only text that looks like one.
//!
//! The blob is the wire form of RFC 4253 §6.6 (RFC 5656 §3.1 for ECDSA, RFC 8709 for Ed25519,
//! OpenSSH's PROTOCOL.u2f for security keys): a list of `string`s (u32 length, bytes) and
//! `mpint`s, the first string naming the type again. Checked: the base64 (canonical, as
//! OpenSSH's `b64_pton` wants it), that named type, each field's length, nothing after the
//! last field, an RSA modulus of at least `MIN_RSA_BITS`. Not checked: that an ECDSA point is
//! on its curve (it needs the curve's arithmetic; ssh then refuses the key when it connects).
//! The decoder is a few lines, so no crate is added for it.

/// Key types OpenSSH writes in known_hosts and authorized_keys.
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// The smallest RSA modulus gen takes: what `ssh-keygen` has made by default since OpenSSH
/// 6.x and the floor NIST SP 800-131A sets; smaller keys can be factored.
pub(super) const MIN_RSA_BITS: usize = 2048;
/// The largest, as OpenSSH's `SSH_RSA_MAXIMUM_MODULUS_SIZE`.
pub(super) const MAX_RSA_BITS: usize = 16384;

/// What the key is for: a host key cannot be a security-key (`sk-`) type.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Use {
    Host,
    Login,
}

pub(super) fn is_known_type(kind: &str) -> bool {
    KEY_TYPES.contains(&kind)
}

/// `Ok` when `body` is the base64 of a well-formed `kind` key, else why not (for a message).
pub(super) fn check(kind: &str, body: &str, usage: Use) -> Result<(), String> {
    if !is_known_type(kind) {
        return Err(format!("`{kind}` is not a key type gen knows"));
    }
    if usage == Use::Host && kind.starts_with("sk-") {
        return Err(format!("`{kind}` is a security-key type, which no ssh server has"));
    }
    let blob = decode(body).ok_or("the key is not valid base64")?;
    let mut r = Reader { rest: &blob };
    let named = r.string().ok_or("the key is cut short")?;
    if named != kind.as_bytes() {
        return Err(match std::str::from_utf8(named) {
            Ok(n) if is_known_type(n) => format!("the key is an `{n}` key, not `{kind}`"),
            _ => format!("the key does not decode to a `{kind}` key"),
        });
    }
    let short = || format!("the key is too short for a `{kind}` key");
    match kind {
        "ssh-ed25519" | "sk-ssh-ed25519@openssh.com" => {
            let key = r.string().ok_or_else(short)?;
            if key.len() != 32 {
                return Err(format!("an Ed25519 key is 32 bytes, this one is {}", key.len()));
            }
        }
        "ssh-rsa" => {
            let e = r.mpint().ok_or_else(short)?;
            let n = r.mpint().ok_or_else(short)?;
            if e.is_empty() || e[e.len() - 1] & 1 == 0 {
                return Err("the RSA public exponent is not odd".into());
            }
            let bits = bit_length(n);
            if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                return Err(format!(
                    "the RSA modulus has {bits} bits; gen takes {MIN_RSA_BITS} to {MAX_RSA_BITS}"
                ));
            }
        }
        _ => {
            // ecdsa-sha2-<curve> and sk-ecdsa-sha2-<curve>@openssh.com.
            let curve = kind.trim_start_matches("sk-").trim_start_matches("ecdsa-sha2-");
            let curve = curve.trim_end_matches("@openssh.com");
            let named_curve = r.string().ok_or_else(short)?;
            if named_curve != curve.as_bytes() {
                return Err(format!("the key does not name the curve `{curve}`"));
            }
            let field_bytes = match curve {
                "nistp256" => 32,
                "nistp384" => 48,
                _ => 66,
            };
            let point = r.string().ok_or_else(short)?;
            if point.len() != 1 + 2 * field_bytes || point[0] != 0x04 {
                return Err(format!(
                    "a `{curve}` key is an uncompressed point of {} bytes starting 0x04",
                    1 + 2 * field_bytes
                ));
            }
        }
    }
    if kind.starts_with("sk-") {
        r.string().ok_or_else(short)?; // the application, `ssh:` by default
    }
    if !r.rest.is_empty() {
        return Err(format!("the key has {} bytes after its last field", r.rest.len()));
    }
    Ok(())
}

/// The fields of a blob, front to back.
struct Reader<'b> {
    rest: &'b [u8],
}

impl<'b> Reader<'b> {
    fn string(&mut self) -> Option<&'b [u8]> {
        let (len, rest) = self.rest.split_first_chunk::<4>()?;
        let len = u32::from_be_bytes(*len) as usize;
        if len > rest.len() {
            return None;
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Some(value)
    }

    /// A positive mpint's magnitude: two's complement, so a leading 0x80 bit means negative.
    fn mpint(&mut self) -> Option<&'b [u8]> {
        let value = self.string()?;
        if value.first().is_some_and(|b| b & 0x80 != 0) {
            return None;
        }
        let start = value.iter().position(|b| *b != 0).unwrap_or(value.len());
        Some(&value[start..])
    }
}

/// The bits of a big-endian magnitude without leading zero bytes.
fn bit_length(n: &[u8]) -> usize {
    match n.first() {
        None => 0,
        Some(top) => n.len() * 8 - top.leading_zeros() as usize,
    }
}

/// Standard base64 with padding, canonical: length a multiple of 4, `=` only at the end, and
/// the bits below the last byte zero (OpenSSH's decoder refuses anything else too).
fn decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    let chunks = bytes.chunks(4);
    let last = chunks.len() - 1;
    for (i, chunk) in chunks.enumerate() {
        let pad = chunk.iter().rev().take_while(|c| **c == b'=').count();
        if pad > 2 || (pad > 0 && i != last) {
            return None;
        }
        let mut n = 0u32;
        for c in &chunk[..4 - pad] {
            n = n << 6 | value(*c)?;
        }
        n <<= 6 * pad;
        let decoded = n.to_be_bytes();
        let keep = 3 - pad;
        if decoded[1 + keep..].iter().any(|b| *b != 0) {
            return None;
        }
        out.extend_from_slice(&decoded[1..=keep]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A blob of `string`s, base64-encoded by the shell's `base64` in the test data below.
    const ED25519: &str = "AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy";

    #[test]
    fn base64_is_decoded_canonically() {
        assert_eq!(decode("TWFu").unwrap(), b"Man");
        assert_eq!(decode("TWE=").unwrap(), b"Ma");
        assert_eq!(decode("TQ==").unwrap(), b"M");
        for bad in ["", "TWF", "TR==", "TWF=", "T===", "TQ==TWFu", "TW-u", "TWFu "] {
            assert_eq!(decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn an_ed25519_key_is_its_type_and_32_bytes() {
        assert_eq!(check("ssh-ed25519", ED25519, Use::Host), Ok(()));
        let short = check("ssh-ed25519", "AAAAAAAAAAAAAAAA", Use::Host).unwrap_err();
        assert!(short.contains("not decode to a `ssh-ed25519`"), "{short}");
        let other = check("ssh-rsa", ED25519, Use::Host).unwrap_err();
        assert_eq!(other, "the key is an `ssh-ed25519` key, not `ssh-rsa`");
        // 31 bytes of key: "AAAAC3NzaC1lZDI1NTE5AAAAHw" + 31 zero bytes.
        let mut blob = b"\0\0\0\x0bssh-ed25519\0\0\0\x1f".to_vec();
        blob.extend([0; 31]);
        let why = check("ssh-ed25519", &encode(&blob), Use::Host).unwrap_err();
        assert_eq!(why, "an Ed25519 key is 32 bytes, this one is 31");
        blob.extend([0; 2]);
        blob[18] = 32;
        let why = check("ssh-ed25519", &encode(&blob), Use::Host).unwrap_err();
        assert_eq!(why, "the key has 1 bytes after its last field");
    }

    #[test]
    fn rsa_needs_an_odd_exponent_and_2048_bits() {
        let rsa = |e: &[u8], n: &[u8]| {
            let mut blob = b"\0\0\0\x07ssh-rsa".to_vec();
            for m in [e, n] {
                blob.extend(u32::try_from(m.len()).unwrap().to_be_bytes());
                blob.extend(m);
            }
            encode(&blob)
        };
        let mut n = vec![0u8];
        n.extend([0xff; 256]);
        assert_eq!(check("ssh-rsa", &rsa(&[1, 0, 1], &n), Use::Host), Ok(()));
        let why = check("ssh-rsa", &rsa(&[1, 0, 1], &n[..129]), Use::Host).unwrap_err();
        assert_eq!(why, "the RSA modulus has 1024 bits; gen takes 2048 to 16384");
        assert!(check("ssh-rsa", &rsa(&[2], &n), Use::Host).is_err());
        // Negative (high bit set without a leading zero).
        assert!(check("ssh-rsa", &rsa(&[1, 0, 1], &n[1..]), Use::Host).is_err());
    }

    #[test]
    fn ecdsa_names_its_curve_and_holds_an_uncompressed_point() {
        let ecdsa = |curve: &str, point: &[u8]| {
            let kind = format!("ecdsa-sha2-{curve}");
            let mut blob = Vec::new();
            for s in [kind.as_bytes(), curve.as_bytes(), point] {
                blob.extend(u32::try_from(s.len()).unwrap().to_be_bytes());
                blob.extend(s);
            }
            (kind, encode(&blob))
        };
        let mut point = vec![4u8];
        point.extend([7; 64]);
        let (kind, body) = ecdsa("nistp256", &point);
        assert_eq!(check(&kind, &body, Use::Host), Ok(()));
        let (kind, body) = ecdsa("nistp384", &point);
        assert!(check(&kind, &body, Use::Host).unwrap_err().contains("97 bytes"));
        point[0] = 2;
        let (kind, body) = ecdsa("nistp256", &point);
        assert!(check(&kind, &body, Use::Host).is_err());
    }

    #[test]
    fn a_security_key_logs_in_but_is_no_host_key() {
        let mut blob = b"\0\0\0\x1ask-ssh-ed25519@openssh.com\0\0\0\x20".to_vec();
        blob.extend([1; 32]);
        blob.extend(b"\0\0\0\x04ssh:");
        let body = encode(&blob);
        assert_eq!(check("sk-ssh-ed25519@openssh.com", &body, Use::Login), Ok(()));
        assert!(check("sk-ssh-ed25519@openssh.com", &body, Use::Host).is_err());
    }

    /// Base64 for the test data (the inverse of `decode`).
    fn encode(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let mut n = [0u8; 3];
            n[..chunk.len()].copy_from_slice(chunk);
            let n = u32::from_be_bytes([0, n[0], n[1], n[2]]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }
}
