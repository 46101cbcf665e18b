//! The root package is edition 2024, where `impl Trait` in return position captures every
//! lifetime in scope. The async entry of a `fn` body still owns its arguments there: the
//! caller can drop what it lent before awaiting, and spawn the future.

use std::path::Path;

use smartasync::smartasync;

#[derive(Clone)]
struct Store {
    prefix: String,
}

impl Store {
    #[smartasync]
    fn lookup<'a>(&'a self, key: &'a str, path: &Path) -> String {
        format!("{}{key}@{}", self.prefix, path.display())
    }
}

#[smartasync]
fn join(left: &str, right: &[u8]) -> String {
    format!("{left}{}", right.len())
}

#[tokio::test]
async fn borrowed_arguments_can_be_dropped_before_awaiting() {
    let store = Store {
        prefix: "p:".to_owned(),
    };
    let key = String::from("k");
    let path = std::path::PathBuf::from("/tmp");
    let future = store.lookup_async(&key, &path);
    drop((store, key, path));
    assert_eq!(tokio::spawn(future).await.unwrap(), "p:k@/tmp");

    let left = String::from("n");
    let right = vec![1, 2, 3];
    let future = join_async(&left, &right);
    drop((left, right));
    assert_eq!(tokio::spawn(future).await.unwrap(), "n3");
}
