"""A snapshot of `pointnet_tf2.training.help_facts.compute_facts()`: what the help texts show of the zoo.

Written by `python -m pointnet_tf2.training.help_facts`; do not edit. It lets `--help` answer
without importing TensorFlow; tests/test_cli.py checks it is current.
"""

FACTS = {'tasks': {'cls': {'script': 'train_cls.py',
                   'default_model': 'pointnet_cls',
                   'log_dir': 'log',
                   'recipe_help': {'num_point': "default: the model's original, else 1024",
                                   'max_epoch': "default: the model's original (e.g. pointnet2_cls_msg: "
                                                '251), else 250',
                                   'batch_size': "default: the model's original (e.g. pointnet2_cls_msg: "
                                                 '16), else 32',
                                   'learning_rate': "default: the model's original (e.g. dgcnn_cls: 0.1), "
                                                    'else 0.001',
                                   'momentum': "default: the model's original, else 0.9",
                                   'optimizer': "default: the model's original (e.g. dgcnn_cls: momentum), "
                                                'else adam',
                                   'decay_step': "default: the model's original, else 200000",
                                   'decay_rate': "default: the model's original, else 0.7",
                                   'bn_init_decay': "default: the model's original (e.g. dgcnn_cls: 0.9), "
                                                    'else 0.5',
                                   'bn_decay_decay_step': "default: the model's original, else 200000",
                                   'bn_decay_clip': "default: the model's original (e.g. dgcnn_cls: 0.9), "
                                                    'else 0.99',
                                   'label_smoothing': "default: the model's original (e.g. dgcnn_cls: "
                                                      '0.205128), else 0',
                                   'weight_decay': "default: the model's original (e.g. dgcnn_cls: 0.0001), "
                                                   'else 0'},
                   'flags': [(('--use_normals',),
                              {'action': 'store_true',
                               'help': 'feed the normals stored after XYZ (6-channel data, e.g. '
                                       'prepare-modelnet-normals) to the model'}),
                             (('--train_rotation',),
                              {'default': None,
                               'choices': ('none', 'z', 'so3'),
                               'help': "random training rotations, in place of the rotation of the model's "
                                       "augmentation: z = about the up axis (PointNet's original), so3 = "
                                       'uniform over SO(3), none; default: none (with --original_settings: '
                                       "the model's original, z for PointNet)"}),
                             (('--test_rotation',),
                              {'default': 'none',
                               'choices': ('none', 'z', 'so3'),
                               'help': 'random rotations of the test set'}),
                             (('--triplet_margin',),
                              {'type': 'float',
                               'default': 0.2,
                               'help': 'embedding models: margin of the triplet loss'}),
                             (('--triplet_mining',),
                              {'default': 'batch_hard',
                               'choices': ('batch_hard', 'batch_all'),
                               'help': 'embedding models: triplet mining within each batch'}),
                             (('--triplet_distance',),
                              {'default': 'l2',
                               'choices': ('l2', 'cosine'),
                               'help': 'embedding models: distance'}),
                             (('--classes_per_batch',),
                              {'type': 'int',
                               'default': None,
                               'help': 'embedding models: P classes x (batch_size // P) shapes per batch; '
                                       'default batch_size // 4'})]},
           'part_seg': {'script': 'train_part_seg.py',
                        'default_model': 'pointnet_part_seg',
                        'log_dir': 'log_part_seg',
                        'recipe_help': {'num_point': "default: the model's original, else 2048",
                                        'max_epoch': "default: the model's original (e.g. dgcnn_part_seg: "
                                                     '201), else 200',
                                        'batch_size': "default: the model's original (e.g. "
                                                      'pointnet2_part_seg_msg: 8), else 32',
                                        'learning_rate': "default: the model's original (e.g. "
                                                         'dgcnn_part_seg: 0.003), else 0.001',
                                        'momentum': "default: the model's original, else 0.9",
                                        'optimizer': "default: the model's original, else adam",
                                        'decay_step': "default: the model's original (e.g. dgcnn_part_seg: "
                                                      '675240), else 337620',
                                        'decay_rate': "default: the model's original (e.g. "
                                                      'pointnet2_part_seg: 0.7), else 0.5',
                                        'bn_init_decay': "default: the model's original, else 0.5",
                                        'bn_decay_decay_step': "default: the model's original (e.g. "
                                                               'dgcnn_part_seg: 1350480), else 675240',
                                        'bn_decay_clip': "default: the model's original, else 0.99",
                                        'label_smoothing': "default: the model's original, else 0",
                                        'weight_decay': "default: the model's original, else 0"},
                        'flags': [(('--use_normals',),
                                   {'action': 'store_true',
                                    'help': 'feed the normals stored after XYZ (6-channel data, e.g. '
                                            'prepare-modelnet-normals) to the model'}),
                                  (('--seg_weight',),
                                   {'type': 'float',
                                    'default': 1.0,
                                    'help': 'weight w of the segmentation loss; the category loss gets 1 - w '
                                            '(the original: 1.0)'})]},
           'sem_seg': {'script': 'train_sem_seg.py',
                       'default_model': 'pointnet_sem_seg',
                       'log_dir': 'log_sem_seg',
                       'recipe_help': {'num_point': "default: the model's original (e.g. pointnet2_sem_seg: "
                                                    '8192), else 4096',
                                       'max_epoch': "default: the model's original (e.g. dgcnn_sem_seg: "
                                                    '101), else 50',
                                       'batch_size': "default: the model's original (e.g. pointnet2_sem_seg: "
                                                     '32), else 24',
                                       'learning_rate': "default: the model's original, else 0.001",
                                       'momentum': "default: the model's original, else 0.9",
                                       'optimizer': "default: the model's original, else adam",
                                       'decay_step': "default: the model's original (e.g. dgcnn_sem_seg: "
                                                     '600000), else 300000',
                                       'decay_rate': "default: the model's original (e.g. pointnet2_sem_seg: "
                                                     '0.7), else 0.5',
                                       'bn_init_decay': "default: the model's original, else 0.5",
                                       'bn_decay_decay_step': "default: the model's original (e.g. "
                                                              'dgcnn_sem_seg: 600000), else 300000',
                                       'bn_decay_clip': "default: the model's original, else 0.99",
                                       'label_smoothing': "default: the model's original, else 0",
                                       'weight_decay': "default: the model's original, else 0"},
                       'flags': [(('--test_area',),
                                  {'type': 'int',
                                   'default': 6,
                                   'help': 'S3DIS area held out for testing (1-6)'})]}},
 'lr_schedules': ('cosine', 'staircase'),
 'precise_bn_batches': 16,
 'families': ['dgcnn', 'pointnet', 'pointnet2', 'voxel']}
