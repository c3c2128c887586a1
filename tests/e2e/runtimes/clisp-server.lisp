;; A CLISP copy-loop HTTP server (issue 19): each response's body goes out by read-sequence
;; from a file stream (CLISP's default: buffered, 4096-byte reads) into an octet vector and
;; write-sequence of that vector to the connection's socket stream.
;; usage: clisp clisp-server.lisp DIR PORT-FILE CONNECTIONS BUFFERED
;; Listens on 127.0.0.1 (port chosen by the kernel, written to PORT-FILE), serves CONNECTIONS
;; requests one after another, then exits normally. A request "GET /SIZE/NAME" sends the file
;; NAME of DIR with a vector of SIZE bytes, after a "HTTP/1.0 200" header. BUFFERED "t": the
;; socket stream is accepted :buffered t (each write-sequence goes through its 4096-byte
;; buffer: write(sock, 4096) again and again); "nil": :buffered nil (one write of the vector).
(defun read-request (s)
  "The request's bytes up to the blank line, as a string."
  (let ((bytes '()) (last4 0))
    (loop for b = (read-byte s nil nil)
          while b do
            (push b bytes)
            (setf last4 (logand #xffffffff (logior (ash last4 8) b)))
          until (= last4 #x0d0a0d0a))
    (map 'string #'code-char (nreverse bytes))))

(defun ascii (str) (map '(vector (unsigned-byte 8)) #'char-code str))

(defun serve-one (server dir buffered)
  (let* ((s (socket:socket-accept server :element-type '(unsigned-byte 8) :buffered buffered))
         (all (read-request s))
         (req (subseq all 0 (position #\Return all)))
         (path (subseq req (1+ (position #\Space req)) (position #\Space req :from-end t)))
         (slash (position #\/ path :start 1))
         (size (parse-integer path :start 1 :end slash))
         (name (subseq path (1+ slash)))
         (buf (make-array size :element-type '(unsigned-byte 8))))
    (with-open-file (in (concatenate 'string dir "/" name) :element-type '(unsigned-byte 8))
      (write-sequence (ascii (format nil "HTTP/1.0 200 OK~C~CContent-Length: ~D~C~CConnection: close~C~C~C~C"
                                     #\Return #\Linefeed (file-length in) #\Return #\Linefeed
                                     #\Return #\Linefeed #\Return #\Linefeed))
                      s)
      (loop for n = (read-sequence buf in) while (> n 0) do (write-sequence buf s :end n)))
    (finish-output s)
    (close s)))

(let* ((dir (first ext:*args*)) (port-file (second ext:*args*))
       (count (parse-integer (third ext:*args*)))
       (buffered (string= (fourth ext:*args*) "t"))
       (server (socket:socket-server 0 :interface "127.0.0.1")))
  (with-open-file (p port-file :direction :output :if-exists :supersede)
    (format p "~D~%" (socket:socket-server-port server)))
  (dotimes (i count) (serve-one server dir buffered))
  (socket:socket-server-close server)
  (ext:exit 0))
