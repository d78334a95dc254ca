//! `Stream<File>` as `Read + Seek` over the in-process loopback server, against a `Cursor` over the
//! same bytes: any sequence of seeks and reads returns the same bytes and positions (or fails
//! where the cursor fails).
#![no_main]

use std::{
    io::{Cursor, Read, Seek, SeekFrom},
    sync::{Mutex, OnceLock},
};

use kithara_file::{File, FileConfig};
use kithara_loopback::{payload, LoopbackServer, Route};
use kithara_stream::{
    dl::{Downloader, DownloaderConfig},
    Stream,
};
use libfuzzer_sys::fuzz_target;

const LEN: usize = 1 << 20;

/// One stream for the whole run (opening one per input would make the target slow): each input
/// goes on from where the last left the reader.
struct Env {
    stream: Mutex<Stream<File>>,
    body: Vec<u8>,
    _server: LoopbackServer,
    _rt: tokio::runtime::Runtime,
}

fn env() -> &'static Env {
    static ENV: OnceLock<Env> = OnceLock::new();
    ENV.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let dl = {
            let _g = rt.enter();
            Downloader::new(DownloaderConfig::builder().system_proxy(false).build())
                .expect("a downloader")
        };
        let server = LoopbackServer::start().expect("the loopback server");
        let body = payload(LEN, 7);
        server.route("/f.bin", Route::new(body.clone()));
        let config = FileConfig::remote(server.url("/f.bin"), dl).build();
        let stream = rt
            .block_on(Stream::<File>::new(config))
            .expect("the stream opens");
        Env {
            stream: Mutex::new(stream),
            body: body.to_vec(),
            _server: server,
            _rt: rt,
        }
    })
}

fuzz_target!(|data: &[u8]| {
    let env = env();
    let mut stream = env.stream.lock().unwrap_or_else(|e| e.into_inner());
    let mut cursor = Cursor::new(&env.body[..]);
    cursor
        .seek(SeekFrom::Start(stream.stream_position().expect("a position")))
        .expect("the cursor follows");
    // Each op is 5 bytes: a kind and a 32-bit argument.
    for op in data.chunks_exact(5).take(64) {
        let arg = u32::from_le_bytes([op[1], op[2], op[3], op[4]]);
        match op[0] % 4 {
            0 => {
                let to = SeekFrom::Start(u64::from(arg) % (LEN as u64 * 2));
                assert_eq!(stream.seek(to).ok(), cursor.seek(to).ok(), "{to:?}");
            }
            1 => {
                let to = SeekFrom::Current(i64::from(arg as i32 % (LEN as i32)));
                assert_eq!(stream.seek(to).ok(), cursor.seek(to).ok(), "{to:?}");
            }
            2 => {
                let to = SeekFrom::End(-i64::from(arg % (LEN as u32 + 16)));
                assert_eq!(stream.seek(to).ok(), cursor.seek(to).ok(), "{to:?}");
            }
            _ => {
                let n = (arg % 200_000) as usize;
                let (mut a, mut b) = (vec![0u8; n], vec![0u8; n]);
                let got = stream.read(&mut a).expect("a read");
                let want = cursor.read(&mut b).expect("a cursor read");
                // A read may return fewer bytes than asked; those it returns are the cursor's.
                assert!(got <= want, "{got} > {want}");
                assert_eq!(a[..got], b[..got]);
                cursor.seek(SeekFrom::Current(got as i64 - want as i64)).expect("rewind");
            }
        }
        assert_eq!(stream.stream_position().ok(), cursor.stream_position().ok());
    }
});
