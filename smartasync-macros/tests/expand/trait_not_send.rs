// `?Send`: the async entries' futures are not `Send`.
#[smartasync(?Send)]
pub trait Local {
    async fn len(&self) -> usize;
}

#[smartasync(?Send)]
impl Local for RcHolder {
    async fn len(&self) -> usize {
        self.0.len()
    }
}
