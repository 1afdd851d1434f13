""" Data helpers for the TF1 reference training script (ModelNet40 HDF5 files). """

import os

import h5py
import numpy as np


def shuffle_data(data, labels):
    """ Shuffles samples and labels together.

    Returns:
      shuffled data, shuffled labels, the permutation
    """
    idx = np.arange(len(labels))
    np.random.shuffle(idx)
    return data[idx, ...], labels[idx], idx


def rotate_point_cloud(batch_data):
    """ Rotates every cloud of a B x N x 3 batch by a random angle about the up (y) axis. """
    rotated_data = np.zeros(batch_data.shape, dtype=np.float32)
    for k in range(batch_data.shape[0]):
        rotation_angle = np.random.uniform() * 2 * np.pi
        cosval = np.cos(rotation_angle)
        sinval = np.sin(rotation_angle)
        rotation_matrix = np.array([[cosval, 0, sinval],
                                    [0, 1, 0],
                                    [-sinval, 0, cosval]])
        shape_pc = batch_data[k, ...]
        rotated_data[k, ...] = np.dot(shape_pc.reshape((-1, 3)), rotation_matrix)
    return rotated_data


def jitter_point_cloud(batch_data, sigma=0.01, clip=0.05):
    """ Adds N(0, sigma) noise clipped to [-clip, clip] to every coordinate. """
    B, N, C = batch_data.shape
    assert(clip > 0)
    jittered_data = np.clip(sigma * np.random.randn(B, N, C), -1 * clip, clip)
    jittered_data += batch_data
    return jittered_data


def getDataFiles(list_filename, data_dir=None):
    """ Reads a list file; with data_dir, each entry is resolved by its file name there. """
    files = [line.rstrip() for line in open(list_filename) if line.strip()]
    if data_dir is not None:
        files = [os.path.join(data_dir, os.path.basename(f)) for f in files]
    return files


def load_h5(h5_filename):
    f = h5py.File(h5_filename, 'r')
    data = f['data'][:]
    label = f['label'][:]
    f.close()
    return (data, label)


def loadDataFile(filename):
    return load_h5(filename)
