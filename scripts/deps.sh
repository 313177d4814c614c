#!/usr/bin/env bash
# deps.sh - install the Debian 12 packages aesweep needs to build, test and
# analyse (as root; uses sudo when run as another user).  Idempotent: only
# missing packages are installed, and `apt-get update` runs only then.
set -euo pipefail
PKGS=(
  build-essential cmake pkg-config git      # toolchain
  libopenmpi-dev openmpi-bin                # MPI: ranks, scatter/gather
  libhdf5-dev hdf5-tools                    # HDF5 C API + high-level (dimension scales), h5dump
  libopenblas-dev                           # sgemm for the reference kernels and the bench peak
  libconfig-dev                             # job specs
  zlib1g-dev                                # gzip CSV, CRC-32 checksums
  libcmocka-dev                             # C unit tests
  python3 python3-numpy python3-h5py python3-matplotlib python3-sklearn   # analysis/
  python3-xarray python3-h5netcdf python3-pytest                          # tests of the file layout
  python3-pandas                            # analysis.load_runs/load_cells/load_curves (tidy tables)
  python3-optuna                            # bench/search_optuna.py: the peer of the adaptive search (issue 16)
  netcdf-bin python3-netcdf4 nco            # third-party readers in the tests: ncdump, netCDF4-python, ncks
  clang libclang-rt-14-dev                  # libFuzzer harnesses
  slurmctld slurmd slurm-client munge       # the real one-node Slurm of the Slurm tests
  groff-base man-db                         # renders the man page (cli_man, install_tree)
  iproute2 util-linux                       # multihost tests: namespaces, veth, bridge, netem (ip, tc, nsenter)
  dataset-fashion-mnist                     # Fashion-MNIST IDX files: jobs/fashion.cfg, test_data, analysis tests
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "deps.sh: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
