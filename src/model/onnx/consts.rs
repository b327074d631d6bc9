//! Constant tensors of an ONNX graph: initializers (inline or in an external data file),
//! `Constant` nodes, and the shape plumbing exporters write around `Reshape` (`Shape`,
//! `Gather`, `Unsqueeze`, `Concat`, `Slice`, `Cast`, integer arithmetic), folded here at
//! import time because every shape is fixed.

use super::proto::{tensor_proto::DataType, TensorProto};
use std::path::Path;

/// Values of a constant: floats (weights, clip bounds) or integers (shapes, axes, indices).
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// f32 (f64 and f16 are converted).
    F32(Vec<f32>),
    /// i64 (i32, u8 and bool are converted).
    I64(Vec<i64>),
}

/// A constant tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct Const {
    /// Dimensions (empty for a scalar).
    pub dims: Vec<usize>,
    /// `dims.iter().product()` values.
    pub data: Data,
}

impl Const {
    /// A 1-D integer tensor.
    pub fn ints(v: Vec<i64>) -> Const {
        Const {
            dims: vec![v.len()],
            data: Data::I64(v),
        }
    }

    /// Whether it holds no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements.
    pub fn len(&self) -> usize {
        match &self.data {
            Data::F32(v) => v.len(),
            Data::I64(v) => v.len(),
        }
    }

    /// The values as integers (floats truncated, as `Cast` to int64 would).
    pub fn as_ints(&self) -> Vec<i64> {
        match &self.data {
            Data::I64(v) => v.clone(),
            Data::F32(v) => v.iter().map(|&x| x as i64).collect(),
        }
    }

    /// The values as floats.
    pub fn as_f32(&self) -> Vec<f32> {
        match &self.data {
            Data::F32(v) => v.clone(),
            Data::I64(v) => v.iter().map(|&x| x as f32).collect(),
        }
    }

    /// The single value of a scalar or one-element tensor.
    pub fn scalar_f32(&self) -> Option<f32> {
        (self.len() == 1).then(|| self.as_f32()[0])
    }

    fn with(&self, dims: Vec<usize>, pick: &[usize]) -> Const {
        let data = match &self.data {
            Data::F32(v) => Data::F32(pick.iter().map(|&i| v[i]).collect()),
            Data::I64(v) => Data::I64(pick.iter().map(|&i| v[i]).collect()),
        };
        Const { dims, data }
    }
}

/// Reads a tensor, from `external_dir` where its data is external. Errors say what is wrong
/// with which tensor (the caller adds the file).
pub fn decode(t: &TensorProto, external_dir: &Path) -> Result<Const, String> {
    let name = t.name();
    let dims = t
        .dims
        .iter()
        .map(|&d| usize::try_from(d).map_err(|_| format!("tensor '{name}': dimension {d}")))
        .collect::<Result<Vec<usize>, String>>()?;
    let n = dims
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .ok_or_else(|| format!("tensor '{name}': dimensions {dims:?} overflow"))?;
    let external;
    let raw: Option<&[u8]> = if t.data_location == Some(1) {
        external = read_external(t, external_dir)?;
        Some(&external)
    } else if t.raw_data.as_ref().is_some_and(|r| !r.is_empty()) {
        t.raw_data.as_deref()
    } else {
        None
    };
    let dtype = DataType::try_from(t.data_type()).unwrap_or(DataType::Undefined);
    let size = match dtype {
        DataType::Float | DataType::Int32 => 4,
        DataType::Double | DataType::Int64 => 8,
        DataType::Float16 => 2,
        DataType::Uint8 | DataType::Int8 | DataType::Bool => 1,
        other => {
            return Err(format!(
                "tensor '{name}': data type {other:?} is not supported"
            ))
        }
    };
    let data = match raw {
        Some(r) => {
            if r.len() != n * size {
                return Err(format!(
                    "tensor '{name}': {} data bytes for {n} values of {size} bytes",
                    r.len()
                ));
            }
            let chunks = r.chunks_exact(size);
            match dtype {
                DataType::Float => Data::F32(
                    chunks
                        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                ),
                DataType::Double => Data::F32(
                    chunks
                        .map(|c| f64::from_le_bytes(c.try_into().unwrap()) as f32)
                        .collect(),
                ),
                DataType::Float16 => Data::F32(
                    chunks
                        .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                        .collect(),
                ),
                DataType::Int64 => Data::I64(
                    chunks
                        .map(|c| i64::from_le_bytes(c.try_into().unwrap()))
                        .collect(),
                ),
                DataType::Int32 => Data::I64(
                    chunks
                        .map(|c| i32::from_le_bytes(c.try_into().unwrap()) as i64)
                        .collect(),
                ),
                DataType::Int8 => Data::I64(r.iter().map(|&b| b as i8 as i64).collect()),
                _ => Data::I64(r.iter().map(|&b| b as i64).collect()),
            }
        }
        None => {
            let data = match dtype {
                DataType::Float => Data::F32(t.float_data.clone()),
                DataType::Double => Data::F32(t.double_data.iter().map(|&x| x as f32).collect()),
                DataType::Int64 => Data::I64(t.int64_data.clone()),
                DataType::Float16 => Data::F32(
                    t.int32_data
                        .iter()
                        .map(|&x| half::f16::from_bits(x as u16).to_f32())
                        .collect(),
                ),
                _ => Data::I64(t.int32_data.iter().map(|&x| x as i64).collect()),
            };
            let c = Const {
                dims: dims.clone(),
                data,
            };
            if c.len() != n {
                return Err(format!(
                    "tensor '{name}': {} values for dimensions {dims:?}",
                    c.len()
                ));
            }
            return Ok(c);
        }
    };
    Ok(Const { dims, data })
}

/// The bytes of an externally stored tensor (`location`, `offset`, `length` keys).
fn read_external(t: &TensorProto, dir: &Path) -> Result<Vec<u8>, String> {
    use std::io::{Read, Seek, SeekFrom};
    let name = t.name();
    let key = |k: &str| {
        t.external_data
            .iter()
            .find(|e| e.key() == k)
            .map(|e| e.value().to_string())
    };
    let location = key("location")
        .ok_or_else(|| format!("tensor '{name}': external data without a location"))?;
    let rel = Path::new(&location);
    if rel.is_absolute()
        || rel
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        return Err(format!(
            "tensor '{name}': external data location '{location}' leaves the model's folder"
        ));
    }
    let num = |k: &str| -> Result<Option<u64>, String> {
        key(k)
            .map(|v| {
                v.parse::<u64>()
                    .map_err(|_| format!("tensor '{name}': external data {k} '{v}'"))
            })
            .transpose()
    };
    let offset = num("offset")?.unwrap_or(0);
    let path = dir.join(rel);
    let mut f = std::fs::File::open(&path).map_err(|e| {
        format!(
            "tensor '{name}': external data file {}: {e}",
            path.display()
        )
    })?;
    let size = f
        .metadata()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let length = num("length")?.unwrap_or(size.saturating_sub(offset));
    if offset.checked_add(length).is_none_or(|end| end > size) {
        return Err(format!(
            "tensor '{name}': external data {}..{} is beyond the end of {} ({size} bytes)",
            offset,
            offset.saturating_add(length),
            path.display()
        ));
    }
    let mut buf = vec![0u8; length as usize];
    f.seek(SeekFrom::Start(offset))
        .and_then(|_| f.read_exact(&mut buf))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(buf)
}

/// Most values a folded constant may have (shape plumbing is small; this bounds what a
/// malformed file can make the importer allocate).
const MAX_FOLDED: usize = 1 << 24;

fn bounded(n: usize) -> Result<(), String> {
    if n > MAX_FOLDED {
        Err(format!("a folded constant of {n} values"))
    } else {
        Ok(())
    }
}

/// Normalises a possibly negative axis of a rank-`rank` tensor.
pub fn axis(a: i64, rank: usize) -> Result<usize, String> {
    let r = rank as i64;
    let v = if a < 0 { a + r } else { a };
    (0..r)
        .contains(&v)
        .then_some(v as usize)
        .ok_or_else(|| format!("axis {a} of a rank-{rank} tensor"))
}

/// Row-major strides of `dims`.
fn strides(dims: &[usize]) -> Vec<usize> {
    let mut s = vec![1; dims.len()];
    for i in (0..dims.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * dims[i + 1];
    }
    s
}

/// `Gather` along `ax` with integer `indices`.
pub fn gather(data: &Const, indices: &Const, ax: i64) -> Result<Const, String> {
    let ax = axis(ax, data.dims.len())?;
    let len = *data.dims.get(ax).ok_or("Gather of a scalar")?;
    let idx = indices
        .as_ints()
        .into_iter()
        .map(|i| {
            let j = if i < 0 { i + len as i64 } else { i };
            (0..len as i64)
                .contains(&j)
                .then_some(j as usize)
                .ok_or_else(|| format!("Gather index {i} of a dimension of {len}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let outer: usize = data.dims[..ax].iter().product();
    let inner: usize = data.dims[ax + 1..].iter().product();
    bounded(outer.saturating_mul(idx.len()).saturating_mul(inner))?;
    let mut pick = Vec::new();
    for o in 0..outer {
        for &i in &idx {
            for k in 0..inner {
                pick.push((o * len + i) * inner + k);
            }
        }
    }
    let mut dims = data.dims[..ax].to_vec();
    dims.extend(&indices.dims);
    dims.extend(&data.dims[ax + 1..]);
    Ok(data.with(dims, &pick))
}

/// `Concat` along `ax`.
pub fn concat(parts: &[&Const], ax: i64) -> Result<Const, String> {
    let first = parts.first().ok_or("Concat of nothing")?;
    let rank = first.dims.len();
    let ax = axis(ax, rank)?;
    let floats = parts.iter().any(|p| matches!(p.data, Data::F32(_)));
    let outer: usize = first.dims[..ax].iter().product();
    let mut dims = first.dims.clone();
    dims[ax] = 0;
    for p in parts {
        if p.dims.len() != rank
            || p.dims[..ax] != first.dims[..ax]
            || p.dims[ax + 1..] != first.dims[ax + 1..]
        {
            return Err(format!(
                "Concat of shapes {:?} and {:?}",
                first.dims, p.dims
            ));
        }
        dims[ax] += p.dims[ax];
    }
    let (mut f, mut i) = (Vec::new(), Vec::new());
    for o in 0..outer {
        for p in parts {
            let block: usize = p.dims[ax..].iter().product();
            let range = o * block..(o + 1) * block;
            if floats {
                f.extend_from_slice(&p.as_f32()[range]);
            } else {
                i.extend_from_slice(&p.as_ints()[range]);
            }
        }
    }
    let data = if floats { Data::F32(f) } else { Data::I64(i) };
    Ok(Const { dims, data })
}

/// `Slice` with `starts`, `ends`, `axes` (default all) and `steps` (default 1).
pub fn slice(
    data: &Const,
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<Const, String> {
    let rank = data.dims.len();
    let all: Vec<i64> = (0..rank as i64).collect();
    let axes = axes.unwrap_or(&all);
    let mut lo = vec![0i64; rank];
    let mut step = vec![1i64; rank];
    let mut count: Vec<usize> = data.dims.clone();
    for (k, &a) in axes.iter().enumerate() {
        let ax = axis(a, rank)?;
        let d = data.dims[ax] as i64;
        let s = steps.and_then(|s| s.get(k).copied()).unwrap_or(1);
        if s == 0 {
            return Err("Slice step 0".into());
        }
        let clamp = |v: i64, lo_: i64, hi_: i64| {
            let v = if v < 0 { v + d } else { v };
            v.clamp(lo_, hi_)
        };
        let (b, e) = (
            *starts.get(k).ok_or("Slice without a start")?,
            *ends.get(k).ok_or("Slice without an end")?,
        );
        let (b, e) = if s > 0 {
            (clamp(b, 0, d), clamp(e, 0, d))
        } else {
            (clamp(b, 0, d - 1), clamp(e, -1, d - 1))
        };
        let n = if s > 0 {
            ((e - b).max(0) as u64).div_ceil(s as u64) as i64
        } else {
            ((b - e).max(0) as u64).div_ceil((-s) as u64) as i64
        };
        lo[ax] = b;
        step[ax] = s;
        count[ax] = n as usize;
    }
    let st = strides(&data.dims);
    let total: usize = count.iter().product();
    let mut pick = Vec::with_capacity(total);
    for flat in 0..total {
        let (mut rem, mut src) = (flat, 0i64);
        for ax in (0..rank).rev() {
            let i = (rem % count[ax]) as i64;
            rem /= count[ax];
            src += (lo[ax] + i * step[ax]) * st[ax] as i64;
        }
        pick.push(src as usize);
    }
    Ok(data.with(count, &pick))
}

/// Inserts unit dimensions at `axes` (of the output).
pub fn unsqueeze(data: &Const, axes: &[i64]) -> Result<Const, String> {
    let rank = data.dims.len() + axes.len();
    if rank > 64 {
        return Err(format!("Unsqueeze to rank {rank}"));
    }
    let mut ax = axes
        .iter()
        .map(|&a| axis(a, rank))
        .collect::<Result<Vec<_>, _>>()?;
    ax.sort_unstable();
    let mut dims = data.dims.clone();
    for a in ax {
        dims.insert(a.min(dims.len()), 1);
    }
    Ok(Const {
        dims,
        data: data.data.clone(),
    })
}

/// Removes the unit dimensions at `axes` (all unit dimensions when none are given).
pub fn squeeze(data: &Const, axes: Option<&[i64]>) -> Result<Const, String> {
    let rank = data.dims.len();
    let drop: Vec<usize> = match axes {
        Some(a) => a.iter().map(|&x| axis(x, rank)).collect::<Result<_, _>>()?,
        None => (0..rank).filter(|&i| data.dims[i] == 1).collect(),
    };
    let dims = (0..rank)
        .filter(|i| !drop.contains(i))
        .map(|i| data.dims[i])
        .collect();
    Ok(Const {
        dims,
        data: data.data.clone(),
    })
}

/// Element-wise `op` of two constants where one is a single value or both have the same
/// shape (what shape arithmetic needs).
pub fn binary(op: &str, a: &Const, b: &Const) -> Result<Const, String> {
    let (n, dims) = if a.len() == b.len() || b.len() == 1 {
        (a.len(), a.dims.clone())
    } else if a.len() == 1 {
        (b.len(), b.dims.clone())
    } else {
        return Err(format!("{op} of shapes {:?} and {:?}", a.dims, b.dims));
    };
    let at = |c: &Const, i: usize| if c.len() == 1 { 0 } else { i };
    let data = if matches!(a.data, Data::F32(_)) || matches!(b.data, Data::F32(_)) {
        let (x, y) = (a.as_f32(), b.as_f32());
        Data::F32(
            (0..n)
                .map(|i| {
                    let (p, q) = (x[at(a, i)], y[at(b, i)]);
                    match op {
                        "Add" => p + q,
                        "Sub" => p - q,
                        "Mul" => p * q,
                        _ => p / q,
                    }
                })
                .collect(),
        )
    } else {
        let (x, y) = (a.as_ints(), b.as_ints());
        let v = (0..n)
            .map(|i| {
                let (p, q) = (x[at(a, i)], y[at(b, i)]);
                match op {
                    "Add" => Ok(p.wrapping_add(q)),
                    "Sub" => Ok(p.wrapping_sub(q)),
                    "Mul" => Ok(p.wrapping_mul(q)),
                    _ if q == 0 => Err("integer division by zero".to_string()),
                    _ => Ok(p.div_euclid(q)),
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        Data::I64(v)
    };
    Ok(Const { dims, data })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(dims: Vec<usize>, v: Vec<i64>) -> Const {
        Const {
            dims,
            data: Data::I64(v),
        }
    }

    #[test]
    fn gather_picks_along_an_axis() {
        let shape = Const::ints(vec![2, 3, 9, 7]);
        let g = gather(&shape, &ints(vec![], vec![0]), 0).unwrap();
        assert_eq!((g.dims.clone(), g.as_ints()), (vec![], vec![2]));
        let m = ints(vec![2, 3], vec![1, 2, 3, 4, 5, 6]);
        let g = gather(&m, &Const::ints(vec![2, -3]), 1).unwrap();
        assert_eq!(
            (g.dims.clone(), g.as_ints()),
            (vec![2, 2], vec![3, 1, 6, 4])
        );
        assert!(gather(&m, &Const::ints(vec![3]), 1).is_err());
    }

    #[test]
    fn concat_slice_unsqueeze_squeeze() {
        let a = Const::ints(vec![2]);
        let b = Const::ints(vec![-1, 5]);
        assert_eq!(concat(&[&a, &b], 0).unwrap().as_ints(), vec![2, -1, 5]);
        let s = Const::ints(vec![2, 3, 9, 7]);
        let t = slice(&s, &[1], &[i64::MAX], None, None).unwrap();
        assert_eq!(t.as_ints(), vec![3, 9, 7]);
        let r = slice(&s, &[-1], &[i64::MIN], Some(&[0]), Some(&[-2])).unwrap();
        assert_eq!(r.as_ints(), vec![7, 3]);
        let u = unsqueeze(&ints(vec![], vec![4]), &[0]).unwrap();
        assert_eq!(u.dims, vec![1]);
        assert_eq!(squeeze(&u, None).unwrap().dims, Vec::<usize>::new());
    }

    #[test]
    fn binary_broadcasts_scalars() {
        let a = Const::ints(vec![2, 8]);
        let two = ints(vec![], vec![2]);
        assert_eq!(binary("Mul", &a, &two).unwrap().as_ints(), vec![4, 16]);
        assert_eq!(binary("Div", &a, &two).unwrap().as_ints(), vec![1, 4]);
        assert!(binary("Div", &a, &ints(vec![], vec![0])).is_err());
        assert!(binary("Add", &a, &Const::ints(vec![1, 2, 3])).is_err());
    }
}
