//! Tiles: read from the store (verified on the way out) or the database,
//! checked by `gomod::tlog` against a signed tree, kept through admission.

use super::{Client, SumdbError, TILE_HEIGHT};
use gomod::tlog::{self, Tile, Tree};
use std::sync::Arc;

/// Reads tiles (from a blocking thread): from the store when kept there
/// (verified on the way out), else from the database unless `offline`; and
/// keeps the tiles a [`tlog::TileHashReader`] checked, through admission.
pub(super) struct HttpTiles {
    client: Arc<Client>,
    handle: tokio::runtime::Handle,
    /// Keep checked partial tiles too (the `/sumdb/` proxy serves them
    /// stale), not only full ones.
    pub(super) keep_partial: bool,
    /// Read nothing from the network (re-verifying stale answers).
    pub(super) offline: bool,
    /// A tile whose data is already at hand (the one being proxied or
    /// re-verified).
    pub(super) extra: Option<(Tile, Vec<u8>)>,
}

impl HttpTiles {
    pub(super) fn new(client: Arc<Client>) -> HttpTiles {
        HttpTiles {
            client,
            handle: tokio::runtime::Handle::current(),
            keep_partial: false,
            offline: false,
            extra: None,
        }
    }
}

impl tlog::TileReader for HttpTiles {
    fn height(&self) -> u32 {
        TILE_HEIGHT
    }
    fn checked_before(&self, tiles: &[Tile], tree: Tree) -> Option<Vec<tlog::CheckedTile>> {
        // A tile handed in to be checked (`extra`) is read and checked.
        if self.extra.as_ref().is_some_and(|(x, _)| tiles.contains(x)) {
            return None;
        }
        self.client.checked_before(tiles, tree)
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        let c = self.client.clone();
        let tiles = tiles.to_vec();
        let extra = self.extra.clone();
        let offline = self.offline;
        self.handle
            .block_on(async move {
                let mut out = Vec::with_capacity(tiles.len());
                for t in &tiles {
                    match &extra {
                        Some((x, d)) if x == t => out.push(d.clone()),
                        _ => out.push(c.tile(t, offline).await?),
                    }
                }
                Ok::<_, SumdbError>(out)
            })
            .map_err(tlog::Error::reader)
    }
    fn save_tiles(&self, tiles: &[tlog::CheckedTile]) {
        let c = self.client.clone();
        // Every checked tile is remembered in memory (see
        // `Client::checked_tiles`); full tiles are kept in the store when
        // first remembered, partial ones when asked for.
        let mut keep: Vec<tlog::CheckedTile> = vec![];
        for t in tiles {
            let t0 = t.tile();
            let fresh = c.remember_tile(t);
            if (t0.w == 1 << t0.h && fresh) || (t0.w != 1 << t0.h && self.keep_partial) {
                keep.push(t.clone());
            }
        }
        if keep.is_empty() {
            return;
        }
        self.handle.block_on(async move {
            for t in keep {
                let key = format!("sumdb/{}/{}", c.cfg.name, t.tile().path());
                if let Ok(Some(_)) = c.store.meta(&key).await {
                    continue;
                }
                match crate::admit::sumdb_tile(&key, &t, &c.cfg.url) {
                    Ok(a) => {
                        if let Err(e) = c.store.put(a).await {
                            tracing::warn!(key, "keeping a checked tile: {e}");
                        }
                    }
                    Err(e) => tracing::warn!(key, "keeping a checked tile: {e}"),
                }
            }
        });
    }
}

/// Reads only the tiles remembered in memory (see `Client::checked_tiles`):
/// no I/O, so a proof can be read on an async thread; a tile not
/// remembered is an error (then [`HttpTiles`] reads it).
pub(super) struct MemTiles<'a>(pub(super) &'a Client);

impl tlog::TileReader for MemTiles<'_> {
    fn height(&self) -> u32 {
        TILE_HEIGHT
    }
    fn read_tiles(&self, tiles: &[Tile]) -> Result<Vec<Vec<u8>>, tlog::Error> {
        tiles
            .iter()
            .map(|t| {
                self.0
                    .remembered_tile(t)
                    .map(|d| d.data().to_vec())
                    .ok_or_else(|| tlog::Error::reader(format!("tile {} not in memory", t.path())))
            })
            .collect()
    }
    fn save_tiles(&self, tiles: &[tlog::CheckedTile]) {
        for t in tiles {
            self.0.remember_tile(t);
        }
    }
    fn checked_before(&self, tiles: &[Tile], tree: Tree) -> Option<Vec<tlog::CheckedTile>> {
        self.0.checked_before(tiles, tree)
    }
}

pub(super) trait ReadChecked {
    fn read_hashes_checked(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error>;
}

impl<R: tlog::TileReader + ?Sized> ReadChecked for tlog::TileHashReader<'_, R> {
    fn read_hashes_checked(&self, indexes: &[u64]) -> Result<Vec<tlog::Hash>, tlog::Error> {
        tlog::HashReader::read_hashes(self, indexes)
    }
}

impl Client {
    /// A hash tile checked before (see `Client::checked_tiles`).
    fn remembered_tile(&self, t: &Tile) -> Option<Arc<tlog::CheckedTile>> {
        if t.l < 0 {
            return None;
        }
        self.checked_tiles.lock().unwrap().get(&t.path()).cloned()
    }

    /// Remembers a hash tile a `TileHashReader` checked, with the tree it
    /// was checked against (the newest check stands); `false` when the
    /// tile was remembered already (record-data tiles are not remembered).
    fn remember_tile(&self, t: &tlog::CheckedTile) -> bool {
        if t.tile().l < 0 {
            return true;
        }
        let mut m = self.checked_tiles.lock().unwrap();
        let fresh = m.get(&t.tile().path()).is_none();
        m.put(t.tile().path(), Arc::new(t.clone()));
        fresh
    }

    /// `tiles` as last checked, when each is remembered and was checked
    /// against `tree` itself (see [`tlog::TileReader::checked_before`]).
    fn checked_before(&self, tiles: &[Tile], tree: Tree) -> Option<Vec<tlog::CheckedTile>> {
        let mut m = self.checked_tiles.lock().unwrap();
        tiles
            .iter()
            .map(|t| {
                (t.l >= 0)
                    .then(|| m.get(&t.path()))
                    .flatten()
                    .filter(|c| c.tree() == tree)
                    .map(|c| (**c).clone())
            })
            .collect()
    }

    /// The bytes of `tile`: a hash tile checked before from memory; else
    /// full tiles (any tile when `offline`) from the store when kept there,
    /// else from the database (never when `offline`). Not trusted until a
    /// `TileHashReader` checked them (again).
    pub(super) async fn tile(&self, t: &Tile, offline: bool) -> Result<Vec<u8>, SumdbError> {
        if let Some(d) = self.remembered_tile(t) {
            return Ok(d.data().to_vec());
        }
        let full = t.w == 1 << t.h;
        let key = format!("sumdb/{}/{}", self.cfg.name, t.path());
        if full || offline {
            if let Some(b) = self.kept(&key).await {
                return Ok(b);
            }
        }
        if offline {
            return Err(self.unreachable(format!("tile {} is not kept", t.path())));
        }
        match self.get(&t.path()).await? {
            Ok(b) => Ok(b),
            Err((s, m)) => Err(self.invalid(format!("tile {}: {s} {m}", t.path()))),
        }
    }

    /// Whether `data` is `t`'s content in the verified `tree`: every hash of
    /// the tile is read through a [`tlog::TileHashReader`] of `tree` (which
    /// checks what it reads against the tree hash), handed this data for
    /// `t` and other tiles from the store (and from the database unless
    /// `offline`), and compared with `data`. Checked tiles are kept.
    pub(super) async fn check_tile(
        self: &Arc<Self>,
        tree: Tree,
        t: Tile,
        data: &[u8],
        offline: bool,
    ) -> bool {
        let level = t.l as u32 * t.h;
        let first = t.n << t.h;
        let width = u64::from(t.w);
        if data.len() as u64 != width * tlog::HASH_SIZE as u64 {
            return false;
        }
        let indexes: Vec<u64> = (first..first + width)
            .map(|i| tlog::stored_hash_index(level, i))
            .collect();
        let mut tiles = HttpTiles::new(self.clone());
        tiles.keep_partial = true;
        tiles.offline = offline;
        tiles.extra = Some((t, data.to_vec()));
        let got = tokio::task::spawn_blocking(move || {
            tlog::TileHashReader::new(tree, &tiles).read_hashes_checked(&indexes)
        })
        .await;
        match got {
            Ok(Ok(hashes)) => hashes
                .iter()
                .zip(data.chunks(tlog::HASH_SIZE))
                .all(|(h, d)| h.0[..] == d[..]),
            _ => false,
        }
    }
}
