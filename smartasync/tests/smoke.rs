use smartasync::smartasync;
use std::sync::Arc;

#[derive(Clone)]
struct Svc {
    base: u32,
}

impl Svc {
    /// Adds.
    #[smartasync]
    fn add(&self, x: u32, name: &str) -> String {
        format!("{name}{}", self.base + x)
    }

    #[smartasync]
    async fn fetch(&self, x: u32) -> u32 {
        tokio::task::yield_now().await;
        self.base * x
    }

    #[smartasync]
    async fn connect(url: &str) -> std::io::Result<Self> {
        let n: u32 = url.len().try_into().map_err(std::io::Error::other)?;
        Ok(Svc { base: n })
    }

    #[smartasync]
    fn build(url: &str, (a, b): (u32, u32)) -> Result<Self, std::num::TryFromIntError> {
        Ok(Svc {
            base: u32::try_from(url.len())? + a + b,
        })
    }

    #[smartasync]
    fn arc(self: Arc<Self>) -> u32 {
        self.base
    }

    #[smartasync(in_place)]
    fn bump(&mut self, by: &str) -> u32 {
        self.base += by.len() as u32;
        self.base
    }
}

#[smartasync]
fn free(mut v: Vec<u8>, s: &str) -> usize {
    v.push(1);
    v.len() + s.len()
}

#[smartasync]
async fn free_async_body(v: Vec<u8>) -> usize {
    v.len()
}

#[test]
fn smoke() {
    let s = Svc { base: 1 };
    assert_eq!(s.add(2, "n"), "n3");
    assert_eq!(s.fetch(3), 3);
    assert_eq!(Svc::connect("abc").unwrap().base, 3);
    assert_eq!(Svc::build("ab", (1, 2)).unwrap().base, 5);
    assert_eq!(free(vec![], "xy"), 3);
    assert_eq!(free_async_body(vec![1]), 1);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let name = String::from("m");
        let fut = s.add_async(2, &name);
        drop(name);
        assert_eq!(fut.await, "m3");
        assert_eq!(s.fetch_async(3).await, 3);
        assert_eq!(Svc::connect_async("abcd").await.unwrap().base, 4);
        assert_eq!(Svc::build_async("ab", (1, 2)).await.unwrap().base, 5);
        assert_eq!(
            free_async(vec![], "xy".to_owned().repeat(2).as_str()).await,
            5
        );
        assert_eq!(Arc::new(s.clone()).arc_async().await, 1);
        let mut m = s.clone();
        assert_eq!(m.bump_async("abc").await, 4);
        assert_eq!(free_async_body_async(vec![1, 2]).await, 2);
    });
}
