fn main() {
    let out = std::env::args().nth(1).unwrap();
    let proto = std::env::args().nth(2).unwrap();
    let inc = std::path::Path::new(&proto).parent().unwrap().to_path_buf();
    let mut c = prost_build::Config::new();
    c.out_dir(&out);
    c.compile_protos(&[&proto], &[inc]).unwrap();
}
