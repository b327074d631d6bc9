//! `.npy` arrays (NumPy's format, read and written with `npyz`): the input and output of
//! `splitbench predict`, and the golden values of the ONNX tests.

use crate::error::{Error, Result};
use npyz::{DType, TypeChar, WriterBuilder};
use std::path::Path;

/// An array read from a `.npy` file: its dimensions and its values as f32.
#[derive(Clone, Debug, PartialEq)]
pub struct Array {
    /// Dimensions, outermost first.
    pub dims: Vec<usize>,
    /// Row-major values.
    pub data: Vec<f32>,
}

/// Reads a little-endian f32 or f64 array (C order). Errors name the file.
pub fn read(path: &Path) -> Result<Array> {
    let bad = |msg: String| Error::BadFile {
        file: path.to_path_buf(),
        msg,
    };
    let bytes = std::fs::read(path).map_err(|e| bad(format!("cannot read: {e}")))?;
    let npy =
        npyz::NpyFile::new(bytes.as_slice()).map_err(|e| bad(format!("not a .npy file: {e}")))?;
    if npy.order() != npyz::Order::C {
        return Err(bad(
            "Fortran-ordered array; save it C-ordered (np.ascontiguousarray)".into(),
        ));
    }
    let dims: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let ty = match npy.dtype() {
        DType::Plain(t) => t,
        other => return Err(bad(format!("dtype {:?}; expected float32", other.descr()))),
    };
    let data = match (ty.type_char(), ty.size_field()) {
        (TypeChar::Float, 4) => npy.into_vec::<f32>(),
        (TypeChar::Float, 8) => npy
            .into_vec::<f64>()
            .map(|v| v.into_iter().map(|x| x as f32).collect()),
        _ => return Err(bad(format!("dtype {}; expected float32", ty))),
    }
    .map_err(|e| bad(format!("truncated or malformed data: {e}")))?;
    let want: usize = dims.iter().product();
    if data.len() != want {
        return Err(bad(format!(
            "{} values for dimensions {dims:?}",
            data.len()
        )));
    }
    Ok(Array { dims, data })
}

/// Writes `data` as a little-endian f32 array of dimensions `dims`.
pub fn write(path: &Path, dims: &[usize], data: &[f32]) -> Result<()> {
    let io = |e: std::io::Error| Error::BadFile {
        file: path.to_path_buf(),
        msg: format!("cannot write: {e}"),
    };
    if dims.iter().product::<usize>() != data.len() {
        return Err(Error::InvalidArg(format!(
            "{} values for dimensions {dims:?}",
            data.len()
        )));
    }
    let mut buf = Vec::new();
    {
        let shape: Vec<u64> = dims.iter().map(|&d| d as u64).collect();
        let mut w = npyz::WriteOptions::<f32>::new()
            .default_dtype()
            .shape(&shape)
            .writer(&mut buf)
            .begin_nd()
            .map_err(io)?;
        w.extend(data.iter().copied()).map_err(io)?;
        w.finish().map_err(io)?;
    }
    std::fs::write(path, buf).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_bad_files() {
        let dir = std::env::temp_dir().join(format!("splitbench-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("a.npy");
        let v: Vec<f32> = (0..24).map(|i| i as f32 * 0.5 - 3.0).collect();
        write(&p, &[2, 3, 2, 2], &v).unwrap();
        assert_eq!(
            read(&p).unwrap(),
            Array {
                dims: vec![2, 3, 2, 2],
                data: v
            }
        );
        let bytes = std::fs::read(&p).unwrap();
        std::fs::write(&p, &bytes[..bytes.len() - 5]).unwrap();
        let e = read(&p).unwrap_err().to_string();
        assert!(e.contains("a.npy"), "{e}");
        std::fs::write(&p, b"not numpy").unwrap();
        assert!(read(&p).unwrap_err().to_string().contains("not a .npy"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
