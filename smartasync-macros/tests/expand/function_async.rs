// `async fn` bodies: the blocking entry drives them.
#[smartasync]
async fn fetch(&mut self, path: &str) -> std::io::Result<usize> {
    #![allow(clippy::needless_question_mark)]
    Ok(self.get(path).await?)
}

/// A free `async fn`: its blocking entry holds a copy of the body.
#[smartasync]
pub async fn lookup(key: &str) -> Option<String> {
    tokio::task::yield_now().await;
    Some(key.to_owned())
}
