// Trait impls: each method written once, as `fn` or `async fn`, in any mix.
#[smartasync]
impl Users for SqliteUsers {
    type Id = u64;

    fn get(&self, id: u64) -> Result<User, Error> {
        self.conn().query(id)
    }

    async fn create(&self, name: &str, tags: &[&str]) -> Result<User, Error> {
        #![allow(unused_variables)]
        let user = self.insert(name).await?;
        Ok(user)
    }

    #[smartasync(in_place)]
    fn rename<'a>(&'a mut self, id: u64, name: &'a str) -> &'a str {
        self.set_name(id, name);
        name
    }

    fn build() -> Self {
        SqliteUsers::default()
    }
}

#[smartasync]
impl<K: Send + 'static> Repository<K> for Memory<K> {
    async fn load<V: Send>(&self, key: K, value: V) -> Option<V> {
        self.contains(key).then_some(value)
    }
}

#[smartasync]
impl Store for Sqlite {
    #[smartasync(limit = 1)]
    fn put(&self, row: String) -> u64 {
        self.insert(row)
    }
}
