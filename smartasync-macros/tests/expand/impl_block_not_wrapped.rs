// An impl block stays where it is written, with full paths, where moving it into an
// anonymous constant could change what the code means: another attribute after ours (an
// attribute macro there may generate items that must stay nameable), or `crate = ".."`.
#[smartasync]
#[mockall::automock]
impl Store {
    pub fn get(&self, key: &str) -> Option<String> {
        None
    }
}

#[smartasync(crate = "crate::deps::smartasync")]
impl Store {
    pub fn len(&self) -> usize {
        0
    }
}

// Docs, lints and `cfg` generate nothing: this one moves.
#[smartasync]
#[doc = "A store."]
#[allow(dead_code)]
#[cfg(feature = "store")]
impl Store {
    pub fn clear(&self) {}
}
