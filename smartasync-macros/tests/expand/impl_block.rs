// An inherent impl block: every method paired; options per method; functions without
// `self` reached through `Self::`; other items and hand-written pairs left alone.
#[smartasync]
impl<T: Clone + Send + Sync + 'static> Store<T> {
    const LIMIT: usize = 8;

    pub fn open(path: &Path) -> std::io::Result<Self> {
        static OPENED: AtomicUsize = AtomicUsize::new(0);
        OPENED.fetch_add(1, Ordering::SeqCst);
        Self::from_path(path)
    }

    pub async fn connect(url: &str) -> std::io::Result<Self> {
        Self::dial(url).await
    }

    pub fn get(&self, key: &str) -> Option<T> {
        self.map.lock().unwrap().get(key).cloned()
    }

    #[smartasync(in_place)]
    pub fn put(&mut self, key: String, value: T) {
        self.map.get_mut().unwrap().insert(key, value);
    }

    #[smartasync(skip)]
    pub fn len(&self) -> usize {
        self.map.lock().unwrap().len()
    }

    pub fn flush(&self) -> bool {
        true
    }

    pub async fn flush_async(&self) -> bool {
        true
    }
}
