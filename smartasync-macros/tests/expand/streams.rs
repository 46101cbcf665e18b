// Bodies that return many items: a blocking iterator gets a stream, a stream an iterator.
#[smartasync]
impl Table {
    pub fn scan(&self, from: u32) -> impl Iterator<Item = Row> + '_ {
        self.rows.iter().filter(move |row| row.id >= from).cloned()
    }

    #[smartasync(batch = 256)]
    fn open(&self, path: &Path) -> Result<impl Iterator<Item = Row>, Error> {
        Ok(self.cursor(path)?.rows())
    }

    async fn pages(&self, size: u32) -> impl Stream<Item = Page> {
        self.client.pages(size).await
    }

    async fn try_pages(&self) -> Result<impl Stream<Item = Page>, Error> {
        Ok(self.client.try_pages().await?)
    }

    fn ticks(&self) -> impl Stream<Item = u64> + Send + 'static {
        self.clock.ticks()
    }
}

#[smartasync(lane = DB)]
fn dump(table: &str) -> impl Iterator<Item = Row> {
    read_all(table)
}

#[smartasync]
trait Export: Send + Sync {
    fn export(&self, since: u64) -> impl Iterator<Item = Row>;
    fn try_export(&self) -> Result<impl Iterator<Item = Row>, Error>;
}

#[smartasync]
impl Export for Sqlite {
    fn export(&self, since: u64) -> impl Iterator<Item = Row> {
        self.cursor(since)
    }

    async fn try_export(&self) -> Result<impl Stream<Item = Row>, Error> {
        Ok(self.remote().await?.rows())
    }
}
