// A trait: both entries of every method declared; provided bodies paired.
#[smartasync]
pub trait Users: Send + Sync {
    type Id: Copy;

    /// Looks a user up.
    fn get(&self, id: u64) -> Result<User, Error>;

    async fn create(&self, name: &str, tags: &[&str]) -> Result<User, Error>;

    fn rename<'a>(&'a mut self, id: u64, name: &'a str) -> &'a str;

    fn count(&self) -> usize {
        self.list().len()
    }

    async fn names(&self, ids: &[u64]) -> Vec<String> {
        let mut names = Vec::new();
        for id in ids {
            names.push(self.get_async(*id).await.unwrap().name);
        }
        names
    }

    fn build() -> Self
    where
        Self: Sized;
}

#[smartasync]
pub trait Repository<K: Send>: Sync {
    fn load<V: Send>(&self, key: K, value: V) -> Option<V>;
}
