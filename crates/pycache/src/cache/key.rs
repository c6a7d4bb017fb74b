//! What a cached payload depends on, and nothing else.

/// The version of the entry format and of the key's layout. Changing either changes every
/// key, so entries of an older pycache are simply never found (and age out).
pub const CACHE_FORMAT: u32 = 3;

/// Everything that can change the bytes `marshal.dumps(compile(...))` gives:
/// - `implementation` and `sys_version` (the full `sys.version`, which names the build and its
///   compiler: two builds of one release may compile differently);
/// - `magic`: the bytecode format (a pre-release changes it without changing the version);
/// - `optimization`: the level (`-O`, `-OO` drop asserts and docstrings);
/// - the source bytes, hashed with BLAKE3 ([`KeyParts::source_digest`]);
/// - `worker`: the identity of the worker script (its imports decide which strings are
///   interned, and so FLAG_REF bits and string types in the payload);
/// - `canonical`: whether the payload was canonicalized (`--reproducible`).
///
/// Not the path: `co_filename` is re-pointed on a hit. Not the invalidation mode: the header is
/// written by pycache, not cached.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct KeyParts<'a> {
    /// `sys.implementation.name`.
    pub implementation: &'a str,
    /// `sys.version`, whole.
    pub sys_version: &'a str,
    /// `importlib.util.MAGIC_NUMBER`.
    pub magic: [u8; 4],
    /// The optimization level compiled at.
    pub optimization: i8,
    /// The BLAKE3 digest of the source bytes as read from disk.
    pub source_digest: [u8; 32],
    /// A digest of the worker script that compiles.
    pub worker: &'a [u8],
    /// Whether the payload is stored in canonical form.
    pub canonical: bool,
}

impl<'a> KeyParts<'a> {
    /// The parts of a key; `canonical` is false.
    pub fn new(
        implementation: &'a str,
        sys_version: &'a str,
        magic: [u8; 4],
        optimization: i8,
        source: &'a [u8],
        worker: &'a [u8],
    ) -> Self {
        KeyParts {
            implementation,
            sys_version,
            magic,
            optimization,
            source_digest: Self::source_digest(source),
            worker,
            canonical: false,
        }
    }

    /// The digest a key holds of `source`: compute it once and give it to
    /// [`KeyParts::with_source_digest`] for each level.
    pub fn source_digest(source: &[u8]) -> [u8; 32] {
        *blake3::hash(source).as_bytes()
    }

    /// The same parts, for the source whose [`KeyParts::source_digest`] is `digest`.
    pub fn with_source_digest(self, digest: [u8; 32]) -> Self {
        KeyParts {
            source_digest: digest,
            ..self
        }
    }

    /// The same parts, for a canonical payload.
    pub fn canonical(self, canonical: bool) -> Self {
        KeyParts { canonical, ..self }
    }
}

/// A cache key: the BLAKE3 digest of the [`KeyParts`], each length-prefixed so that no two
/// different sets of parts give the same byte string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey([u8; 32]);

impl CacheKey {
    /// The key of `parts`.
    pub fn new(parts: &KeyParts<'_>) -> Self {
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"pycache code cache\0");
        hasher.update(&CACHE_FORMAT.to_le_bytes());
        let mut field = |bytes: &[u8]| {
            hasher.update(&(bytes.len() as u64).to_le_bytes());
            hasher.update(bytes);
        };
        field(parts.implementation.as_bytes());
        field(parts.sys_version.as_bytes());
        field(&parts.magic);
        field(&parts.optimization.to_le_bytes());
        field(&parts.source_digest);
        field(parts.worker);
        field(&[u8::from(parts.canonical)]);
        CacheKey(*hasher.finalize().as_bytes())
    }

    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        CacheKey(bytes)
    }

    /// The key's 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, the entry's file name.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}
